import http from 'node:http';
import https from 'node:https';
import { FetchError } from '../errors.js';

/** How hard a download tries. Tests shrink the delays and the stall timeout. */
export interface RetryPolicy {
  /** Attempts after the first. */
  retries: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** No byte (or no response) for this long counts as a failed attempt. */
  stallMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { retries: 5, baseDelayMs: 300, maxDelayMs: 10_000, stallMs: 30_000 };

/**
 * DBCO_HTTP_STALL_MS, DBCO_HTTP_RETRIES and DBCO_HTTP_RETRY_DELAY_MS (first backoff) override the
 * policy: a slow link wants a longer stall limit; the fault-injection suite a short one.
 */
export function retryFromEnv(env = process.env): Partial<RetryPolicy> {
  const num = (v: string | undefined): number | undefined => (v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined);
  const out: Partial<RetryPolicy> = {};
  const stall = num(env.DBCO_HTTP_STALL_MS);
  const retries = num(env.DBCO_HTTP_RETRIES);
  const delay = num(env.DBCO_HTTP_RETRY_DELAY_MS);
  if (stall !== undefined && stall > 0) out.stallMs = stall;
  if (retries !== undefined) out.retries = retries;
  if (delay !== undefined) {
    out.baseDelayMs = delay;
    out.maxDelayMs = Math.max(delay, Math.min(DEFAULT_RETRY.maxDelayMs, delay * 32));
  }
  return out;
}

/** Where response bytes go: a hashing temp file, or memory for small texts. */
export interface Sink {
  readonly size: number;
  write(chunk: Uint8Array): Promise<void>;
  /** Drops everything written (the server restarted from byte 0). */
  reset(): Promise<void>;
}

export class MemorySink implements Sink {
  private chunks: Buffer[] = [];
  private length = 0;

  constructor(private readonly limit: number) {}

  get size(): number {
    return this.length;
  }

  async write(chunk: Uint8Array): Promise<void> {
    this.length += chunk.length;
    if (this.length > this.limit) throw new PermanentError(`response larger than ${this.limit} bytes`);
    this.chunks.push(Buffer.from(chunk));
  }

  async reset(): Promise<void> {
    this.chunks = [];
    this.length = 0;
  }

  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

/** A failure worth another attempt: 5xx, reset, stall, short body. */
class RetryableError extends Error {}
/** A failure no retry can fix: 4xx other than 404, oversized text. */
class PermanentError extends Error {}

const MAX_REDIRECTS = 5;

interface AttemptState {
  /** Validator of the representation we hold bytes of, for If-Range. */
  validator?: string;
  /** false once the server answered a Range request with 200. */
  ranges: boolean;
}

/**
 * GETs `url` into `sink`, retrying transient failures with exponential backoff and jitter, resuming
 * with Range when the server honours it. Returns false for 404/410 (the file is absent).
 */
export async function download(
  url: string,
  sink: Sink,
  policy: RetryPolicy,
  onBytes?: (delta: number, total?: number) => void,
): Promise<boolean> {
  const state: AttemptState = { ranges: true };
  let lastCause: unknown;
  for (let attempt = 0; attempt <= policy.retries; attempt++) {
    if (attempt > 0) await sleep(backoff(policy, attempt));
    try {
      return await attemptOnce(url, sink, policy, state, onBytes);
    } catch (err) {
      if (err instanceof PermanentError) throw new FetchError(url, err.message, { cause: err });
      throwIfNoSuchHost(url, err);
      lastCause = err;
    }
  }
  const why = lastCause instanceof Error ? lastCause.message : String(lastCause);
  throw new FetchError(url, `failed after ${policy.retries + 1} attempts: ${why}`, { cause: lastCause });
}

/** HEAD with the same retries: true when the file is there, false on 404/410. */
export async function exists(url: string, policy: RetryPolicy): Promise<boolean> {
  let lastCause: unknown;
  for (let attempt = 0; attempt <= policy.retries; attempt++) {
    if (attempt > 0) await sleep(backoff(policy, attempt));
    try {
      const res = await request(url, { 'user-agent': 'dbco' }, policy.stallMs, 0, 'HEAD');
      res.resume();
      const status = res.statusCode ?? 0;
      if (status === 404 || status === 410) return false;
      if (status >= 200 && status < 300) return true;
      if (status >= 500 || status === 429 || status === 408) throw new RetryableError(`HTTP ${status}`);
      throw new FetchError(url, `HEAD answered HTTP ${status}`);
    } catch (err) {
      if (err instanceof FetchError || err instanceof PermanentError) throw err instanceof FetchError ? err : new FetchError(url, err.message, { cause: err });
      throwIfNoSuchHost(url, err);
      lastCause = err;
    }
  }
  const why = lastCause instanceof Error ? lastCause.message : String(lastCause);
  throw new FetchError(url, `HEAD failed after ${policy.retries + 1} attempts: ${why}`, { cause: lastCause });
}

/**
 * A host name that does not resolve (or no DNS at all: offline) will not resolve in the next seconds
 * either: fail at once and say how to build without the network, instead of retrying for 10 s.
 */
function throwIfNoSuchHost(url: string, err: unknown): void {
  const e = err as (NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException }) | undefined;
  const code = [e?.code, e?.cause?.code, /\b(ENOTFOUND|EAI_AGAIN)\b/.exec(e?.message ?? '')?.[1]].find((c) => c === 'ENOTFOUND' || c === 'EAI_AGAIN');
  if (!code) return;
  const host = (() => { try { return new URL(url).hostname; } catch { return url; } })();
  throw new FetchError(url, `cannot resolve ${host} (${code}: no network?); give a reachable mirror or a local mirror folder with --mirror or DBCO_MIRROR (e.g. DBCO_MIRROR=../shared/tc-mirror)`, { cause: err });
}

function backoff(policy: RetryPolicy, attempt: number): number {
  const exp = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  // Full jitter keeps parallel processes that failed together from retrying in lockstep.
  return exp / 2 + Math.random() * (exp / 2);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function attemptOnce(
  url: string,
  sink: Sink,
  policy: RetryPolicy,
  state: AttemptState,
  onBytes?: (delta: number, total?: number) => void,
): Promise<boolean> {
  const offset = state.ranges ? sink.size : 0;
  if (offset === 0 && sink.size > 0) {
    onBytes?.(-sink.size);
    await sink.reset();
  }
  const headers: Record<string, string> = { 'user-agent': 'dbco', 'accept-encoding': 'identity' };
  if (offset > 0) {
    headers.range = `bytes=${offset}-`;
    if (state.validator) headers['if-range'] = state.validator;
  }
  const res = await request(url, headers, policy.stallMs);
  try {
    const status = res.statusCode ?? 0;
    if (status === 404 || status === 410) {
      res.resume();
      return false;
    }
    if (status >= 500 || status === 429 || status === 408) throw new RetryableError(`HTTP ${status}`);
    if (status === 416) {
      // The range no longer fits the file (it changed): start over.
      state.ranges = false;
      throw new RetryableError('HTTP 416 on resume');
    }
    if (status !== 200 && status !== 206) throw new PermanentError(`HTTP ${status}`);

    let expectedEnd: number | undefined;
    const length = headerInt(res.headers['content-length']);
    if (status === 206) {
      const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(res.headers['content-range'] ?? '');
      if (offset === 0 || !m || Number(m[1]) !== offset) {
        // A range we did not ask for: distrust it and start over without ranges.
        state.ranges = false;
        throw new RetryableError(`unexpected partial response ${res.headers['content-range'] ?? '(no content-range)'}`);
      }
      expectedEnd = Number(m[2]) + 1;
    } else {
      if (sink.size > 0) {
        // A full answer to a Range request: the file changed (If-Range) or the server ignores ranges.
        if (offset > 0 && res.headers['accept-ranges'] !== 'bytes') state.ranges = false;
        onBytes?.(-sink.size);
        await sink.reset();
      }
      if (length !== undefined) expectedEnd = length;
    }
    const validator = res.headers.etag ?? res.headers['last-modified'];
    if (status === 200) state.validator = typeof validator === 'string' ? validator : undefined;

    for await (const chunk of res as AsyncIterable<Buffer>) {
      await sink.write(chunk);
      onBytes?.(chunk.length, expectedEnd);
    }
    if (expectedEnd !== undefined && sink.size < expectedEnd) {
      throw new RetryableError(`short body: ${sink.size} of ${expectedEnd} bytes`);
    }
    if (expectedEnd !== undefined && sink.size > expectedEnd) {
      state.ranges = false;
      await sink.reset();
      throw new RetryableError(`body longer than announced (${expectedEnd} bytes)`);
    }
    return true;
  } catch (err) {
    res.destroy();
    if (err instanceof RetryableError || err instanceof PermanentError) throw err;
    throw new RetryableError(describe(err));
  }
}

function headerInt(v: string | string[] | undefined): number | undefined {
  if (typeof v !== 'string' || !/^\d+$/.test(v)) return undefined;
  return Number(v);
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return code && !err.message.includes(code) ? `${err.message} (${code})` : err.message;
  }
  return String(err);
}

/** One GET, following redirects; the stall timer covers the wait for headers and every gap between chunks. */
function request(url: string, headers: Record<string, string>, stallMs: number, hops = 0, method = 'GET'): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      reject(new PermanentError(`not a URL: ${url}`));
      return;
    }
    const mod = u.protocol === 'https:' ? https : u.protocol === 'http:' ? http : undefined;
    if (!mod) {
      reject(new PermanentError(`unsupported protocol ${u.protocol}`));
      return;
    }
    let response: http.IncomingMessage | undefined;
    const req = mod.request(u, { headers, method }, (res) => {
      response = res;
      const status = res.statusCode ?? 0;
      const location = res.headers.location;
      if ([301, 302, 303, 307, 308].includes(status) && location) {
        res.resume();
        if (hops >= MAX_REDIRECTS) {
          reject(new PermanentError(`more than ${MAX_REDIRECTS} redirects`));
          return;
        }
        request(new URL(location, u).toString(), headers, stallMs, hops + 1, method).then(resolve, reject);
        return;
      }
      resolve(res);
    });
    // Socket inactivity, before or after the headers: destroying the request errors the body stream too.
    req.setTimeout(stallMs, () => {
      const err = new RetryableError(`stalled: no data for ${stallMs} ms`);
      // Failing the body stream itself makes the reader see "stalled" rather than a generic "aborted".
      if (response) response.destroy(err);
      req.destroy(err);
    });
    req.on('error', (err) => reject(err instanceof RetryableError ? err : new RetryableError(describe(err))));
    req.end();
  });
}
