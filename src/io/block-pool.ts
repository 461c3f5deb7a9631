/**
 * Squashfs data blocks read and inflated on worker threads. Each inflateSync call pays ~18 us of
 * stream set-up, which caps 4 KiB-block reading on one thread; and every byte the main thread reads,
 * copies and posts costs it time it needs for the walk and the consumer. So the workers read the
 * image file themselves (page-cache reads, one per run) and reuse one zlib handle across blocks;
 * the main thread sends a few numbers per run and gets back one buffer of decoded blocks.
 *
 * Requests are coalesced adaptively: while a worker has fewer than DEPTH messages in flight a run
 * goes out at once (low latency for a lone reader); once every worker is busy, runs queue and leave
 * together with the next reply (few messages for many concurrent readers).
 */
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import type { ByteSource } from '../formats/source.js';
import type { BlockRun, BlockRunResult, ReadBlockRun } from '../formats/squashfs/index.js';

// Inline source (eval), so the same code runs from dist/ and from the TypeScript sources under vitest.
// The zlib handle is Node's internal one (_handle.writeSync, as zlib's own sync path drives it);
// where it is missing, inflateSync is used. After an error the handle is dropped and a new one made.
// A run stops at its first bad block; the other runs of the message go on (they may be other readers').
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const fs = require('node:fs');
const zlib = require('node:zlib');
const { Z_FINISH } = zlib.constants;
const UNCOMPRESSED = 0x1000000;
let z;
let failure;
function handle() {
  if (!z) {
    z = new zlib.Inflate();
    z._handle.onerror = (message, errno, code) => { failure = message || code || 'zlib error ' + errno; };
  }
  return z;
}
const reusable = typeof handle()._handle?.writeSync === 'function' && handle()._writeState instanceof Uint32Array;
function inflateInto(input, out, at, window) {
  if (!reusable) {
    const b = zlib.inflateSync(input, { maxOutputLength: window, chunkSize: Math.max(64, window) });
    out.set(b, at);
    return b.length;
  }
  const s = handle();
  failure = undefined;
  s._handle.writeSync(Z_FINISH, input, 0, input.length, out, at, window);
  if (failure !== undefined) {
    const message = failure;
    z = undefined;
    try { s.close(); } catch {}
    throw new Error(message);
  }
  const produced = window - s._writeState[0];
  s._handle.reset();
  return produced;
}
// Descriptors of the files runs come from, most recently used last; closed past MAX_FDS and on 'close'.
const MAX_FDS = 16;
const fds = new Map();
function fdOf(path) {
  let fd = fds.get(path);
  if (fd !== undefined) { fds.delete(path); fds.set(path, fd); return fd; }
  fd = fs.openSync(path, 'r');
  fds.set(path, fd);
  if (fds.size > MAX_FDS) { const [p, old] = fds.entries().next().value; fds.delete(p); fs.closeSync(old); }
  return fd;
}
// One input buffer per worker, reused: a run's compressed bytes live only while it is decoded.
let scratch = Buffer.allocUnsafeSlow(1024 * 1024);
function readSpan(path, start, span) {
  if (scratch.length < span) scratch = Buffer.allocUnsafeSlow(span);
  const b = scratch.subarray(0, span);
  const fd = fdOf(path);
  let done = 0;
  while (done < span) {
    const n = fs.readSync(fd, b, done, span - done, start + done);
    if (n === 0) throw new Error(path + ': ' + span + ' bytes at ' + start + ' run past the end of the file');
    done += n;
  }
  return b;
}
function decode(run) {
  const n = run.words.length;
  let room = 1;
  for (let k = 0; k < n; k++) room += (run.words[k] & ~UNCOMPRESSED) === 0 ? run.wants[k] : run.maxOut;
  const out = new Uint8Array(room);
  const lengths = new Int32Array(n);
  let error;
  let input;
  try {
    input = run.input ? new Uint8Array(run.input) : readSpan(run.path, run.start, run.span);
  } catch (err) {
    return { out: out.buffer, lengths, readError: String(err && err.message) };
  }
  let at = 0;
  let pos = 0;
  for (let k = 0; k < n; k++) {
    const word = run.words[k];
    const len = (word & ~UNCOMPRESSED) >>> 0;
    try {
      if (len === 0) lengths[k] = run.wants[k]; // sparse: the buffer is zeroed already
      else if (word & UNCOMPRESSED) { out.set(input.subarray(pos, pos + len), at); lengths[k] = len; }
      else {
        // One byte of slack past maxOut tells an over-long block from a full one.
        const produced = inflateInto(input.subarray(pos, pos + len), out, at, run.maxOut + 1);
        if (produced > run.maxOut) throw new Error('block inflates to more than ' + run.maxOut + ' bytes');
        lengths[k] = produced;
      }
    } catch (err) {
      error = { index: k, message: String(err && err.message) };
      break;
    }
    at += lengths[k];
    pos += len;
  }
  return { out: out.buffer, lengths, error };
}
parentPort.on('message', (m) => {
  if (m.close) {
    for (const fd of fds.values()) fs.closeSync(fd);
    fds.clear();
    parentPort.postMessage({ id: m.id, results: [] });
    return;
  }
  const results = m.runs.map(decode);
  parentPort.postMessage({ id: m.id, results }, results.map((r) => r.out));
});
`;

/** Messages in flight per worker before runs start to queue: one being decoded, one waiting. */
const DEPTH = 2;
/**
 * Upper bound of decoded bytes per message: small runs (small files, fragments) travel together, but
 * large runs go one by one, so a worker is never handed a pile of work while the other one idles.
 */
const MESSAGE_OUT = 512 * 1024;

interface WireRun {
  path?: string;
  input?: ArrayBuffer;
  start: number;
  span: number;
  words: Uint32Array;
  wants: Uint32Array;
  maxOut: number;
}

interface WireResult {
  out: ArrayBuffer;
  lengths: Int32Array;
  error?: { index: number; message: string };
  readError?: string;
}

interface Request {
  run: WireRun;
  resolve(r: BlockRunResult): void;
  reject(err: Error): void;
}

interface Slot {
  worker?: Worker;
  /** Requests of each message in flight, by message id. */
  inFlight: Map<number, Request[]>;
}

export interface BlockPool {
  /** Runs of the squashfs image in this file, read by the workers themselves. */
  forFile(path: string): ReadBlockRun;
  /** Runs of an image held elsewhere: read here, decoded by the workers. */
  forSource(src: ByteSource): ReadBlockRun;
  /** Stops the workers (closing their files); pending runs reject. An idle pool never keeps the process alive anyway. */
  close(): Promise<void>;
}

export function createBlockPool(workers = Math.min(2, os.availableParallelism())): BlockPool {
  const slots: Slot[] = Array.from({ length: Math.max(1, workers) }, () => ({ inFlight: new Map() }));
  const queue: Request[] = [];
  let nextId = 0;
  let closed = false;

  const fail = (slot: Slot, err: Error): void => {
    slot.worker = undefined;
    const lost = [...slot.inFlight.values()].flat();
    slot.inFlight.clear();
    for (const r of lost) r.reject(err);
  };

  const start = (slot: Slot): Worker => {
    const w = new Worker(WORKER_SOURCE, { eval: true });
    w.on('message', (m: { id: number; results: WireResult[] }) => {
      const requests = slot.inFlight.get(m.id);
      if (!requests) return;
      slot.inFlight.delete(m.id);
      if (slot.inFlight.size === 0) w.unref();
      requests.forEach((req, i) => {
        const r = m.results[i]!;
        if (r.readError !== undefined) req.reject(new Error(r.readError));
        else req.resolve(r.error ? { out: new Uint8Array(r.out), lengths: r.lengths, error: r.error } : { out: new Uint8Array(r.out), lengths: r.lengths });
      });
      dispatch();
    });
    w.on('error', (err) => {
      if (slot.worker === w) fail(slot, new Error(`block worker failed: ${err.message}`, { cause: err }));
      dispatch();
    });
    w.on('exit', (code) => {
      if (slot.worker === w) fail(slot, new Error(`block worker exited (code ${code})`));
      dispatch();
    });
    // After the listeners (a 'message' listener refs the port again): referenced only while it has
    // work, so an idle pool never holds the process open.
    w.unref();
    slot.worker = w;
    return w;
  };

  const send = (slot: Slot, requests: Request[]): void => {
    const w = slot.worker ?? start(slot);
    const id = nextId++;
    if (slot.inFlight.size === 0) w.ref();
    slot.inFlight.set(id, requests);
    const runs = requests.map((r) => r.run);
    const transfer = runs.flatMap((r) => (r.input ? [r.input] : []));
    w.postMessage({ id, runs }, transfer);
  };

  const outOf = (r: WireRun): number => r.words.length * r.maxOut;

  function dispatch(): void {
    while (queue.length > 0 && !closed) {
      let slot = slots[0]!;
      for (const s of slots) if (s.inFlight.size < slot.inFlight.size) slot = s;
      if (slot.inFlight.size >= DEPTH) return; // every worker busy: the queue leaves with the next reply
      const take: Request[] = [queue.shift()!];
      let out = outOf(take[0]!.run);
      while (queue.length > 0 && out + outOf(queue[0]!.run) <= MESSAGE_OUT) {
        const r = queue.shift()!;
        out += outOf(r.run);
        take.push(r);
      }
      send(slot, take);
    }
  }

  // Started now rather than on the first run: a worker takes tens of ms to boot, which would
  // otherwise sit on the critical path of the first file read. Unreferenced, so this costs no exit delay.
  for (const slot of slots) start(slot);

  const submit = (run: WireRun): Promise<BlockRunResult> => {
    if (closed) return Promise.reject(new Error('block pool is closed'));
    return new Promise<BlockRunResult>((resolve, reject) => {
      queue.push({ run, resolve, reject });
      dispatch();
    });
  };

  const wire = (r: BlockRun): Omit<WireRun, 'path' | 'input'> => ({ start: r.start, span: r.span, words: r.words, wants: r.wants, maxOut: r.maxOut });

  return {
    forFile: (path) => (run) => submit({ ...wire(run), path }),
    forSource: (src) => async (run) => {
      const bytes = await src.read(run.start, run.span);
      if (bytes.length < run.span) throw new Error(`${run.span} bytes at ${run.start} run past the end of the image`);
      // A private copy: its buffer is handed over to the worker.
      return submit({ ...wire(run), input: new Uint8Array(bytes).buffer });
    },
    async close() {
      closed = true;
      for (const r of queue.splice(0)) r.reject(new Error('block pool is closed'));
      await Promise.all(
        slots.map(async (slot) => {
          const w = slot.worker;
          if (!w) return;
          fail(slot, new Error('block pool is closed'));
          // Worker threads share the process's descriptors: close the files before the thread goes.
          const id = nextId++;
          w.ref();
          await new Promise<void>((resolve) => {
            const done = (m: { id: number }): void => {
              if (m.id === id) resolve();
            };
            w.on('message', done);
            w.once('exit', () => resolve());
            w.postMessage({ id, close: true });
          });
          await w.terminate();
        }),
      );
    },
  };
}

let shared: BlockPool | undefined;

/**
 * The process's one pool, made on first use: every tcz a build reads shares the same two workers.
 * DBCO_INFLATE=inline turns it off (everything on the main thread, for comparison and as a way out).
 */
export function sharedBlockPool(): BlockPool | undefined {
  if (process.env.DBCO_INFLATE === 'inline') return undefined;
  shared ??= createBlockPool();
  return shared;
}
