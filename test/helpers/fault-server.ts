import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { AddressInfo } from 'node:net';

/**
 * One scripted misbehaviour for one request. After a path's script is used up it is served normally.
 * `after` counts body bytes sent before the fault strikes.
 */
export type Fault =
  | { kind: 'status'; status: number }
  /** Send `after` bytes, then reset the TCP connection. */
  | { kind: 'reset'; after: number }
  /** Announce the full content-length, send `after` bytes, then close the connection cleanly. */
  | { kind: 'truncate'; after: number }
  /** Send `after` bytes, then go silent for `ms` before closing. */
  | { kind: 'stall'; after: number; ms: number }
  /** Serve this request normally. */
  | { kind: 'ok' };

export interface FaultRequest {
  path: string;
  range?: string;
  status: number;
}

export interface FaultServer {
  url: string;
  requests: FaultRequest[];
  /** Queues faults for the next requests of `relPath` ('/7.x/...'). */
  script(relPath: string, faults: Fault[]): void;
  /** Serves `body` instead of the file (e.g. a wrong .md5.txt). */
  override(relPath: string, body: string | Buffer): void;
  /** Turns Range support on or off (on by default). */
  setRanges(on: boolean): void;
  /** Adds a delay before every response. */
  setLatency(ms: number): void;
  close(): Promise<void>;
}

/** A real HTTP server over a folder in mirror layout whose misbehaviour each test scripts per path. */
export async function faultServer(root: string): Promise<FaultServer> {
  const scripts = new Map<string, Fault[]>();
  const overrides = new Map<string, Buffer>();
  const requests: FaultRequest[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let ranges = true;
  let latency = 0;

  const later = (ms: number, fn: () => void) => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const rel = decodeURIComponent((req.url ?? '/').split('?')[0]!);
    const log: FaultRequest = { path: rel, status: 0, ...(req.headers.range ? { range: req.headers.range } : {}) };
    requests.push(log);
    const fault = scripts.get(rel)?.shift() ?? { kind: 'ok' };
    if (fault.kind === 'status') {
      log.status = fault.status;
      res.writeHead(fault.status, { 'content-length': 0 }).end();
      return;
    }
    let body = overrides.get(rel);
    if (!body) {
      const file = path.join(root, path.normalize(rel));
      if (!file.startsWith(root)) {
        log.status = 403;
        res.writeHead(403).end();
        return;
      }
      try {
        if (!statSync(file).isFile()) throw new Error('not a file');
        body = readFileSync(file);
      } catch {
        log.status = 404;
        res.writeHead(404, { 'content-length': 0 }).end();
        return;
      }
    }
    let status = 200;
    const headers: Record<string, string | number> = { 'content-type': 'application/octet-stream', etag: `"${body.length}"` };
    if (ranges) headers['accept-ranges'] = 'bytes';
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (ranges && m && Number(m[1]) < body.length) {
      const start = Number(m[1]);
      status = 206;
      headers['content-range'] = `bytes ${start}-${body.length - 1}/${body.length}`;
      body = body.subarray(start);
    }
    headers['content-length'] = body.length;
    log.status = status;
    res.writeHead(status, headers);
    if (fault.kind === 'ok') {
      res.end(body);
      return;
    }
    const head = body.subarray(0, Math.min(fault.after, body.length));
    res.write(head);
    const sock = res.socket!;
    if (fault.kind === 'reset') later(20, () => sock.resetAndDestroy());
    else if (fault.kind === 'truncate') later(20, () => sock.end());
    else later(fault.ms, () => sock.destroy());
  }

  const server = createServer((req, res) => {
    if (latency > 0) later(latency, () => handle(req, res));
    else handle(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    script: (p, f) => scripts.set(p, [...(scripts.get(p) ?? []), ...f]),
    override: (p, b) => overrides.set(p, Buffer.from(b)),
    setRanges: (on) => {
      ranges = on;
    },
    setLatency: (ms) => {
      latency = ms;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const t of timers) clearTimeout(t);
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
