import { Readable } from 'node:stream';
import Docker from 'dockerode';
import { DockerError } from '../../errors.js';

export interface Engine {
  docker: Docker;
  /** Where the engine was looked for (DOCKER_HOST or the socket path), for messages. */
  where: string;
}

const DEFAULT_SOCKET = '/var/run/docker.sock';

export function engineLocation(env = process.env): string {
  return env.DOCKER_HOST || DEFAULT_SOCKET;
}

/** Connects and pings within `timeoutMs`, so a stopped daemon fails fast instead of hanging the build. */
export async function connectEngine(timeoutMs = 2000): Promise<Engine> {
  const where = engineLocation();
  let docker: Docker;
  try {
    docker = process.env.DOCKER_HOST ? new Docker() : new Docker({ socketPath: DEFAULT_SOCKET });
  } catch (err) {
    throw new DockerError(`bad DOCKER_HOST ${where}: ${(err as Error).message}`, { cause: err });
  }
  // The abort closes the socket too: a pending request to a silent engine would keep the process alive.
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      abort.abort();
      reject(new Error(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
  });
  const ping = (docker.ping as unknown as (opts: { abortSignal: AbortSignal }) => Promise<unknown>).call(docker, { abortSignal: abort.signal });
  ping.catch(() => undefined);
  try {
    await Promise.race([ping, timeout]);
  } catch (err) {
    throw new DockerError(
      `cannot reach the Docker engine at ${where}: ${(err as Error).message}; start dockerd, or write the image to a file with --output FILE.tar and load it later`,
      { cause: err },
    );
  } finally {
    clearTimeout(timer);
  }
  return { docker, where };
}

export async function imageExists(engine: Engine, id: string): Promise<boolean> {
  try {
    await engine.docker.getImage(id).inspect();
    return true;
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return false;
    throw new DockerError(`inspecting image ${id} at ${engine.where}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Streams an archive into POST /images/load and reads every progress line: the engine reports most
 * failures (bad layer, unknown media type) in the body of a 200 response, so each line is checked.
 */
export async function loadArchive(engine: Engine, archive: AsyncIterable<Uint8Array>): Promise<string[]> {
  const body = Readable.from(archive, { objectMode: false });
  let sourceError: unknown;
  body.on('error', (err) => { sourceError = err; });
  let response: NodeJS.ReadableStream;
  try {
    response = await engine.docker.loadImage(body, { quiet: true });
  } catch (err) {
    if (sourceError) throw sourceError;
    throw new DockerError(`docker load at ${engine.where} failed: ${(err as Error).message}`, { cause: err });
  }
  const messages: string[] = [];
  let pending = '';
  const handle = (line: string): void => {
    if (!line.trim()) return;
    let msg: { stream?: string; status?: string; error?: string; errorDetail?: { message?: string } };
    try {
      msg = JSON.parse(line);
    } catch {
      throw new DockerError(`docker load at ${engine.where}: unexpected reply ${JSON.stringify(line.slice(0, 200))}`);
    }
    if (msg.error || msg.errorDetail) {
      throw new DockerError(`docker load at ${engine.where} failed: ${msg.errorDetail?.message ?? msg.error}`);
    }
    const text = (msg.stream ?? msg.status ?? '').trim();
    if (text) messages.push(text);
  };
  for await (const chunk of response as AsyncIterable<Buffer | string>) {
    pending += chunk.toString();
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      handle(pending.slice(0, nl));
      pending = pending.slice(nl + 1);
    }
  }
  handle(pending);
  if (sourceError) throw sourceError;
  return messages;
}

export function splitTag(tag: string): { repo: string; tag: string } {
  const colon = tag.lastIndexOf(':');
  if (colon > tag.lastIndexOf('/')) return { repo: tag.slice(0, colon), tag: tag.slice(colon + 1) };
  return { repo: tag, tag: 'latest' };
}

export async function tagImage(engine: Engine, id: string, ref: string): Promise<void> {
  try {
    await engine.docker.getImage(id).tag(splitTag(ref));
  } catch (err) {
    throw new DockerError(`tagging ${id} as ${ref} at ${engine.where}: ${(err as Error).message}`, { cause: err });
  }
}

/** Removes a reference; a missing one is not an error (cleanup after a failure must not mask it). */
export async function removeReference(engine: Engine, ref: string): Promise<void> {
  try {
    await engine.docker.getImage(ref).remove({ noprune: false });
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode !== 404) throw err;
  }
}

/**
 * Runs `cmd` in a fresh container of `image` (entrypoint cleared, no network) until it exits, and returns
 * its exit status and output. The container is always removed.
 */
export async function runInContainer(engine: Engine, image: string, cmd: string[], labels: Record<string, string> = {}): Promise<{
  exit: number; stdout: string; stderr: string;
}> {
  let container: Docker.Container;
  try {
    container = await engine.docker.createContainer({
      Image: image, Entrypoint: [], Cmd: cmd, NetworkDisabled: true, Labels: labels, HostConfig: { NetworkMode: 'none' },
    });
  } catch (err) {
    throw new DockerError(`creating a container from ${image} at ${engine.where}: ${(err as Error).message}`, { cause: err });
  }
  try {
    await container.start();
    const { StatusCode } = (await container.wait()) as { StatusCode: number };
    const raw = (await container.logs({ stdout: true, stderr: true, follow: false })) as unknown as Buffer;
    // Multiplexed frames: 8-byte header (stream 1 = stdout, 2 = stderr; size as big-endian u32 at 4).
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    for (let off = 0; off + 8 <= raw.length;) {
      const size = raw.readUInt32BE(off + 4);
      (raw[off] === 2 ? err : out).push(raw.subarray(off + 8, off + 8 + size));
      off += 8 + size;
    }
    return { exit: StatusCode, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
  } finally {
    await container.remove({ force: true }).catch(() => undefined);
  }
}
