import { Readable } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import { DockerError } from '../../errors.js';
import { describeEngine, identifyEngine, kindFromPing, kindFromVersion, type EngineInfo } from './engine-info.js';
import { parseLoadStream, type LoadReport } from './load-stream.js';
import type { LoadProgress } from './load-progress.js';
import { EngineApi } from './engine-api/client.js';
import { DEFAULT_SOCKET, endpointFor } from './engine-api/endpoint.js';
import type { Call } from './engine-api/transport.js';
import { trace } from './trace.js';

export interface Engine {
  api: EngineApi;
  /** Where the engine was looked for (DOCKER_HOST or the socket path), for messages. */
  where: string;
  /** What the engine said it is (kind, version, image store). */
  info: EngineInfo;
  /** 'Docker 26.1.5 (containerd image store) at unix:///run/x.sock': every engine error starts with it. */
  name: string;
  /** Longest silence (ms) tolerated from the engine during one request or load. */
  timeoutMs: number;
}

/** A load of a large layer can keep a slow engine silent for a while; a wedged one stays silent for good. */
const DEFAULT_TIMEOUT_S = 120;

export function engineLocation(env = process.env): string {
  return env.DOCKER_HOST || `unix://${DEFAULT_SOCKET}`;
}

/** DBCO_ENGINE_TIMEOUT (seconds): how long the engine may stay silent before dbco gives up on it. */
export function engineTimeoutMs(env = process.env): number {
  const raw = env.DBCO_ENGINE_TIMEOUT;
  if (raw === undefined || raw === '') return DEFAULT_TIMEOUT_S * 1000;
  const s = Number(raw);
  if (!Number.isFinite(s) || s <= 0) throw new DockerError(`DBCO_ENGINE_TIMEOUT=${raw}: expected a number of seconds`);
  return Math.round(s * 1000);
}

interface DialOptions {
  method: Call['method'];
  path: string;
  query?: Call['query'];
  /** Status codes taken as success; anything else is an error carrying statusCode. */
  ok?: number[];
  /** Resolve with the response stream instead of its parsed JSON. */
  stream?: boolean;
  body?: Call['body'];
}

/** One call; the AbortController closes its connection (a wedged engine must not hang dbco). */
function dial<T>(api: EngineApi, opts: DialOptions): { result: Promise<T>; abort: AbortController } {
  const abort = new AbortController();
  const call: Call = { method: opts.method, path: opts.path, query: opts.query, body: opts.body, signal: abort.signal };
  const result = (opts.stream ? api.stream(call, opts.ok) : api.json<T>(call, opts.ok)) as Promise<T>;
  return { result, abort };
}

/** Rejects with a "no answer" error when `p` has not settled after `ms` (and aborts the request). */
async function within<T>(p: Promise<T>, abort: AbortController, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      abort.abort();
      reject(new SilentEngine(`no answer within ${ms} ms to ${what}`));
    }, ms);
  });
  p.catch(() => undefined);
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

class SilentEngine extends Error {}

function statusOf(err: unknown): number | undefined {
  return (err as { statusCode?: number }).statusCode;
}

/** The engine's own message (ApiError: with the status and the call), else the error's. */
function reason(err: unknown): string {
  return ((err as Error).message ?? String(err)).trim();
}

/** A request to a connected engine; failures become DockerErrors naming the engine and `what`. */
export async function request<T = unknown>(engine: Engine, what: string, opts: DialOptions & { deadline?: boolean }): Promise<T> {
  const { result, abort } = dial<T>(engine.api, opts);
  try {
    // deadline false: a call that legitimately takes long (waiting for a container's command).
    return await (opts.deadline === false ? result : within(result, abort, engine.timeoutMs, what));
  } catch (err) {
    throw engineError(engine, what, err);
  }
}

export function engineError(engine: Engine, what: string, err: unknown): DockerError {
  if (err instanceof DockerError) return err;
  const hint = err instanceof SilentEngine ? ' (the engine may be wedged; DBCO_ENGINE_TIMEOUT sets the limit in seconds)' : '';
  const e = new DockerError(`${engine.name}: ${what}: ${reason(err)}${hint}`, { cause: err });
  (e as { statusCode?: number }).statusCode = statusOf(err);
  return e;
}

/**
 * Connects, pings within `pingTimeoutMs` (a stopped daemon fails fast instead of hanging the build), and
 * asks the engine what it is: the kind, version and image store decide nothing about IDs (those always
 * come from the engine), but every message names them.
 */
export async function connectEngine(pingTimeoutMs = 2000, host = process.env.DOCKER_HOST): Promise<Engine> {
  const where = host || engineLocation({});
  const timeoutMs = engineTimeoutMs();
  let api: EngineApi;
  try {
    api = new EngineApi(endpointFor(host));
  } catch (err) {
    throw new DockerError(`bad DOCKER_HOST ${where}: ${(err as Error).message}`, { cause: err });
  }
  const ask = async <T>(path: string, ms = pingTimeoutMs, stream = false): Promise<T> => {
    const { result, abort } = dial<T>(api, { method: 'GET', path, stream });
    return within(result, abort, ms, `GET ${path}`);
  };
  let engineInfo: EngineInfo;
  try {
    // The ping's headers name the engine at once; Podman's /version and /info take seconds, so they are
    // asked only when the ping does not say, and /info only of dockerd (for its image store).
    const ping = await ask<IncomingMessage>('/_ping', pingTimeoutMs, true);
    ping.resume();
    const headers = ping.headers as Record<string, string | undefined>;
    const kind = kindFromPing({ server: headers.server, apiVersion: headers['api-version'], libpodApiVersion: headers['libpod-api-version'] })
      ?? kindFromVersion(await ask<Record<string, unknown>>('/version', timeoutMs));
    // As the docker CLI: the lower of the engine's API version and ours, for every later call.
    api.negotiate(headers['api-version'] || kind.apiVersion || undefined);
    const info = kind.kind === 'docker' ? await ask<Record<string, unknown>>('/info', Math.max(pingTimeoutMs, 5000)) : {};
    engineInfo = identifyEngine(kind, info);
  } catch (err) {
    throw new DockerError(
      `cannot reach the Docker engine at ${where}: ${reason(err)}; start dockerd (or podman system service), or write the image to a file with --output FILE.tar and load it later`,
      { cause: err },
    );
  }
  return { api, where, info: engineInfo, name: `${describeEngine(engineInfo)} at ${where}`, timeoutMs };
}

export interface InspectedImage {
  Id: string;
  RepoTags?: string[] | null;
  RepoDigests?: string[] | null;
  RootFS?: { Layers?: string[] };
  Config?: { Labels?: Record<string, string> | null };
}

/** The engine's view of an image by ID or reference, or undefined when it has none. */
export async function inspectImage(engine: Engine, ref: string): Promise<InspectedImage | undefined> {
  try {
    return await request<InspectedImage>(engine, `inspecting image ${ref}`, { method: 'GET', path: `/images/${encodeURIComponent(ref)}/json` });
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    throw err;
  }
}

export async function imageExists(engine: Engine, ref: string): Promise<boolean> {
  return (await inspectImage(engine, ref)) !== undefined;
}

/**
 * Streams an archive into POST /images/load and reads every progress line: the engine reports most
 * failures (bad layer, unknown media type) in the body of a 200 response, so each line is checked. The
 * load is abandoned with a clear error when the engine neither takes bytes nor says anything for the
 * engine timeout. Returns what the engine said it loaded.
 */
export async function loadArchive(
  engine: Engine, archive: AsyncIterable<Uint8Array>, progress?: LoadProgress, layerSizes: number[] = [],
): Promise<LoadReport> {
  const what = 'docker load';
  let sourceError: unknown;
  let timedOut = false;
  let timer: NodeJS.Timeout | undefined;
  let abort: AbortController | undefined;
  const alive = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => { timedOut = true; abort?.abort(); }, engine.timeoutMs);
  };
  let first = true;
  let total = 0;
  trace('load: begin');
  const source = async function* (): AsyncIterable<Uint8Array> {
    const chunks = archive[Symbol.asyncIterator]();
    try {
      for (;;) {
        // Pulled again: the engine took the previous chunk. Waiting for the next is waiting for dbco's
        // own build (an archive sent while its layers are written), not for the engine.
        clearTimeout(timer);
        const next = await chunks.next();
        if (next.done) break;
        if (first) { trace('load: first byte'); first = false; }
        total += next.value.length;
        alive();
        progress?.bytes(next.value.length);
        yield next.value;
      }
    } finally {
      await chunks.return?.();
    }
    alive(); // the engine owes the answer from here
    trace(`load: last byte (${total} bytes)`);
  };
  const body = Readable.from(source(), { objectMode: false });
  body.on('error', (err) => { sourceError = err; });
  const silent = (): DockerError => new DockerError(
    `${engine.name}: ${what}: the engine went silent for ${engine.timeoutMs / 1000} s (it answered the ping but not the load; ` +
    'it may be wedged). DBCO_ENGINE_TIMEOUT sets the limit in seconds');
  alive();
  progress?.begin(layerSizes);
  // A silent engine (the containerd store and Podman say nothing until the end) still gets its lines.
  const ticker = progress ? setInterval(() => progress.tick(), 1000) : undefined;
  ticker?.unref();
  try {
    const d = dial<IncomingMessage>(engine.api, {
      method: 'POST', path: '/images/load', query: { quiet: false }, ok: [200], stream: true, body,
    });
    abort = d.abort;
    let response: NodeJS.ReadableStream;
    try {
      response = await d.result;
      trace('load: response headers');
    } catch (err) {
      if (sourceError) throw sourceError;
      if (timedOut) throw silent();
      throw engineError(engine, what, err);
    }
    alive();
    const chunks = (async function* () {
      try {
        for await (const chunk of response as AsyncIterable<Buffer | string>) {
          alive();
          yield chunk;
        }
      } catch (err) {
        if (timedOut) throw silent();
        throw engineError(engine, what, err);
      }
    })();
    const report = await parseLoadStream(chunks, (msg) => new DockerError(`${engine.name}: ${what} failed: ${msg}`),
      (id, current, total) => progress?.engineLayer(id, current, total));
    trace('load: response end');
    if (timedOut) throw silent();
    if (sourceError) throw sourceError;
    return report;
  } finally {
    clearTimeout(timer);
    clearInterval(ticker);
    progress?.end();
  }
}

export function splitTag(tag: string): { repo: string; tag: string } {
  const at = tag.indexOf('@');
  const name = at >= 0 ? tag.slice(0, at) : tag;
  const colon = name.lastIndexOf(':');
  if (colon > name.lastIndexOf('/')) return { repo: name.slice(0, colon), tag: name.slice(colon + 1) };
  return { repo: name, tag: 'latest' };
}

export async function tagImage(engine: Engine, id: string, ref: string): Promise<void> {
  const { repo, tag } = splitTag(ref);
  await request(engine, `tagging ${id} as ${ref}`, {
    method: 'POST', path: `/images/${encodeURIComponent(id)}/tag`, query: { repo, tag }, ok: [200, 201],
  });
}

/**
 * Removes a reference (the image goes with its last one); a missing one is not an error (cleanup after
 * a failure must not mask it).
 */
export async function removeReference(engine: Engine, ref: string): Promise<void> {
  try {
    await request(engine, `removing ${ref}`, { method: 'DELETE', path: `/images/${encodeURIComponent(ref)}`, query: { noprune: false } });
  } catch (err) {
    if (statusOf(err) !== 404) throw err;
  }
}
