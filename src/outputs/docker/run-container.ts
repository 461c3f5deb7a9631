import type { IncomingMessage } from 'node:http';
import { engineError, request, type Engine } from './engine.js';
import { readBody } from './engine-api/transport.js';
import { LABEL_INTERNAL, LABEL_OWNER, ownerToken } from './owner.js';

export interface RunOptions {
  /** Replaces the image's entrypoint; default none, so `cmd` runs as given. */
  entrypoint?: string[];
  /** Default: the image's user and working directory. */
  user?: string;
  workdir?: string;
  env?: string[];
  labels?: Record<string, string>;
  /** Registers the container for removal on an interrupt; returns the function that unregisters it. */
  track?: (remove: () => Promise<void>, label: string) => () => void;
}

export interface RunResult<T> {
  exitCode: number;
  /** stdout and stderr, interleaved as the engine kept them. */
  output: string;
  stdout: string;
  stderr: string;
  /** What `inspect` returned (called after the command exited, before the container is removed). */
  after: T;
}

/**
 * Docker's multiplexed log frames (8-byte header: stream 1 stdout / 2 stderr, 0, 0, 0, size BE32) to
 * text: all of it in order, and each stream on its own.
 */
export function demux(buf: Buffer): { output: string; stdout: string; stderr: string } {
  // A container with a TTY, or Podman on some paths, sends plain text.
  if (!(buf.length >= 8 && buf[0]! <= 2 && buf[1] === 0 && buf[2] === 0 && buf[3] === 0)) {
    const text = buf.toString();
    return { output: text, stdout: text, stderr: '' };
  }
  const all: Buffer[] = [];
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let off = 0;
  while (off + 8 <= buf.length) {
    const size = buf.readUInt32BE(off + 4);
    const frame = buf.subarray(off + 8, off + 8 + size);
    all.push(frame);
    (buf[off] === 2 ? err : out).push(frame);
    off += 8 + size;
  }
  return { output: Buffer.concat(all).toString(), stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
}

/**
 * Runs `cmd` in a new container of `image` (no network), waits for it, collects its output, lets
 * `inspect` look at the stopped container (e.g. export its files), and always removes it. The container
 * is labelled with this run's owner, so a run killed before the removal leaves nothing another run cannot
 * clean up. The one function every dbco feature uses to run something in an image.
 */
export async function runInContainer<T = undefined>(
  engine: Engine, image: string, cmd: string[], opts: RunOptions = {},
  inspect?: (containerId: string, exitCode: number) => Promise<T>,
): Promise<RunResult<T>> {
  let id: string;
  try {
    const created = await request<{ Id: string }>(engine, `creating a container from ${image}`, { method: 'POST', path: '/containers/create', body: {
      Image: image,
      Entrypoint: opts.entrypoint ?? [],
      Cmd: cmd,
      User: opts.user,
      WorkingDir: opts.workdir,
      Env: opts.env,
      NetworkDisabled: true,
      Labels: { ...opts.labels, [LABEL_INTERNAL]: '1', [LABEL_OWNER]: ownerToken() },
      HostConfig: { NetworkMode: 'none' },
    } });
    id = created.Id;
  } catch (err) {
    throw engineError(engine, `creating a container from ${image}`, err);
  }
  const remove = async (): Promise<void> => {
    await request(engine, `removing container ${id.slice(0, 12)}`, {
      method: 'DELETE', path: `/containers/${id}`, query: { force: true, v: true }, ok: [200, 204, 404],
    });
  };
  const untrack = opts.track?.(remove, `container ${id.slice(0, 12)}`);
  try {
    await request(engine, `starting a container of ${image}`, { method: 'POST', path: `/containers/${id}/start`, ok: [204, 304] });
    // No deadline here: the command may legitimately run for long; an interrupt removes the container.
    const waited = await request<{ StatusCode: number }>(engine, `waiting for a container of ${image}`, {
      method: 'POST', path: `/containers/${id}/wait`, deadline: false,
    });
    const logs = await request<IncomingMessage>(engine, `reading a container's output`, {
      method: 'GET', path: `/containers/${id}/logs`, query: { stdout: true, stderr: true, follow: false }, stream: true,
    });
    const text = demux(await readBody(logs).catch((err: unknown) => { throw engineError(engine, `reading a container's output`, err); }));
    const after = (inspect ? await inspect(id, waited.StatusCode) : undefined) as T;
    return { exitCode: waited.StatusCode, ...text, after };
  } finally {
    await remove().catch(() => undefined);
    untrack?.();
  }
}
