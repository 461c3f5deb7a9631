import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { prng } from './prng.js';

/**
 * The misbehaviours of a real mirror, as issue 12's fault pass found them. Each strikes one request.
 *   500/503       a server error (dbco retries)
 *   reset         some bytes, then a TCP reset
 *   truncate      the full content-length announced, some bytes, then a clean close
 *   stall         some bytes, then silence (longer than the client's stall limit)
 *   wrong-md5     an .md5.txt naming other bytes
 *   corrupt       a payload with one byte flipped (same length)
 *   html          a 200 with an HTML error page instead of the file
 *   transient-404 a 404 for a file that is there (at most once per path: a mirror mid-sync)
 */
export const FAULT_KINDS = ['500', '503', 'reset', 'truncate', 'stall', 'wrong-md5', 'corrupt', 'html', 'transient-404'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface ProxyHit {
  path: string;
  fault?: FaultKind;
}

export interface FaultProxy {
  url: string;
  hits: ProxyHit[];
  /** Faults for the next requests of a path ('/7.x/...'), in order; used before any random fault. */
  plan(path: string, faults: FaultKind[]): void;
  /** Random faults: each request is faulted with probability `rate`, the kind drawn from `kinds`; seeded. */
  random(seed: number, rate: number, kinds?: readonly FaultKind[]): void;
  /** No faults at all: the good mirror, at the same URL (cache keys are URLs). */
  clear(): void;
  close(): Promise<void>;
}

const HTML = '<!DOCTYPE html>\n<html><head><title>503 Service Unavailable</title></head><body>busy</body></html>\n';

/**
 * A proxy in front of a real HTTP mirror (`upstream`, e.g. serveFolder over a mirror folder) that injects
 * the faults above, deterministically per path or at random with a seed, so any failing run replays.
 * Faults that need the body (corrupt, truncate, wrong-md5...) read the upstream answer first.
 */
export async function faultProxy(upstream: string, stallMs = 2_000): Promise<FaultProxy> {
  const planned = new Map<string, FaultKind[]>();
  const hits: ProxyHit[] = [];
  const sockets = new Set<import('node:net').Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let rand: (() => number) | undefined;
  let rate = 0;
  let kinds: readonly FaultKind[] = FAULT_KINDS;
  let gone404 = new Set<string>();

  const pick = (path: string): FaultKind | undefined => {
    const queued = planned.get(path);
    if (queued && queued.length > 0) return queued.shift();
    if (!rand || rand() >= rate) return undefined;
    const candidates = kinds.filter((k) => applies(k, path) && !(k === 'transient-404' && gone404.has(path)));
    if (candidates.length === 0) return undefined;
    return candidates[Math.floor(rand() * candidates.length)];
  };

  const fetchUpstream = (path: string, method: string, range?: string): Promise<{ status: number; headers: IncomingMessage['headers']; body: Buffer }> =>
    new Promise((resolve, reject) => {
      const req = request(`${upstream}${path}`, { method, headers: range ? { range } : {} }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 502, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]!;
    const fault = pick(path);
    hits.push({ path, ...(fault ? { fault } : {}) });
    if (fault === '500' || fault === '503') {
      res.writeHead(Number(fault), { 'content-length': 0 }).end();
      return;
    }
    if (fault === 'transient-404') {
      gone404.add(path);
      res.writeHead(404, { 'content-length': 0 }).end();
      return;
    }
    if (fault === 'html') {
      res.writeHead(200, { 'content-type': 'text/html', 'content-length': Buffer.byteLength(HTML) }).end(req.method === 'HEAD' ? undefined : HTML);
      return;
    }
    // Faults on the body need the real answer; a Range request is passed on only when nothing is faulted.
    const up = await fetchUpstream(path, req.method ?? 'GET', fault ? undefined : req.headers.range);
    let body = up.body;
    if (up.status !== 200 || fault === undefined || req.method === 'HEAD') {
      const headers: Record<string, string | number> = { 'content-length': req.method === 'HEAD' ? Number(up.headers['content-length'] ?? 0) : body.length };
      if (up.headers['content-range']) headers['content-range'] = up.headers['content-range'];
      res.writeHead(up.status, headers).end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    if (fault === 'wrong-md5') body = Buffer.from(`${'0123456789abcdef'.repeat(2)}  ${path.split('/').pop()!.replace(/\.md5\.txt$/, '')}\n`);
    if (fault === 'corrupt') {
      body = Buffer.from(body);
      if (body.length > 0) body[Math.floor(body.length / 2)] ^= 0x55;
    }
    res.writeHead(200, { 'content-length': body.length, 'content-type': 'application/octet-stream' });
    if (fault === 'wrong-md5' || fault === 'corrupt') {
      res.end(body);
      return;
    }
    const part = body.subarray(0, Math.floor(body.length / 2));
    res.write(part);
    const sock = res.socket!;
    const later = (ms: number, fn: () => void): void => {
      const t = setTimeout(() => { timers.delete(t); fn(); }, ms);
      timers.add(t);
    };
    if (fault === 'reset') later(10, () => sock.resetAndDestroy());
    else if (fault === 'truncate') later(10, () => sock.end());
    else later(stallMs, () => sock.destroy());
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    hits,
    plan: (p, f) => planned.set(p, [...(planned.get(p) ?? []), ...f]),
    random: (seed, r, k = FAULT_KINDS) => {
      rand = prng(seed);
      rate = r;
      kinds = k;
    },
    clear: () => {
      planned.clear();
      rand = undefined;
      gone404 = new Set();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const t of timers) clearTimeout(t);
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * Which faults make sense for a path: a wrong md5 only for .md5.txt; a corrupt body only for payloads
 * (nothing vouches for a .dep's bytes: a flipped letter is a well-formed, wrong name).
 */
function applies(kind: FaultKind, path: string): boolean {
  if (kind === 'wrong-md5') return path.endsWith('.md5.txt');
  if (kind === 'corrupt') return path.endsWith('.tcz');
  return true;
}
