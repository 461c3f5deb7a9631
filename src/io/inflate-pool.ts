/**
 * zlib inflate on worker threads, in batches: each inflateSync call pays ~18 us of stream set-up,
 * which caps 4 KiB-block squashfs reading on one thread; a few workers inflating whole runs of
 * blocks per message spread that cost over the cores. Plugs into openSquashfs as `batchInflate`.
 */
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import type { BatchInflate, BatchResult } from '../formats/squashfs/index.js';

// Inline source (eval), so the same code runs from dist/ and from the TypeScript sources under vitest.
// Inside a worker, one zlib handle is reset and reused across blocks: a fresh inflateSync per block
// pays ~8 us of stream set-up (half the cost of a 4 KiB block). The handle is Node's internal one
// (_handle.writeSync, as zlib's own sync path drives it); if it is missing, inflateSync is used.
// After an error the handle is dropped and a new one made. Output goes straight into the batch's
// buffer, which is transferred back whole.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const zlib = require('node:zlib');
const { Z_FINISH } = zlib.constants;
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
parentPort.on('message', (m) => {
  const input = new Uint8Array(m.input);
  const n = m.offsets.length - 1;
  const out = new Uint8Array(n * m.maxOut + 1);
  const lengths = [];
  let at = 0;
  let error;
  for (let i = 0; i < n; i++) {
    try {
      // One byte of slack past maxOut tells an over-long block from a full one.
      const len = inflateInto(input.subarray(m.offsets[i], m.offsets[i + 1]), out, at, m.maxOut + 1);
      if (len > m.maxOut) throw new Error('block inflates to more than ' + m.maxOut + ' bytes');
      lengths.push(len);
      at += len;
    } catch (err) {
      error = { index: i, message: String(err && err.message) };
      break;
    }
  }
  parentPort.postMessage({ id: m.id, out: out.buffer, lengths, error }, [out.buffer]);
});
`;

interface Reply {
  id: number;
  out: ArrayBuffer;
  lengths: number[];
  error?: { index: number; message: string };
}

interface Pending {
  resolve(r: BatchResult): void;
  reject(err: Error): void;
}

interface Slot {
  worker?: Worker;
  pending: Map<number, Pending>;
}

export interface InflatePool {
  batchInflate: BatchInflate;
  /** Stops the workers; pending batches reject. Idle workers never keep the process alive anyway. */
  close(): Promise<void>;
}

export function createInflatePool(workers = Math.min(2, os.availableParallelism())): InflatePool {
  const slots: Slot[] = Array.from({ length: Math.max(1, workers) }, () => ({ pending: new Map() }));
  let nextId = 0;
  let closed = false;

  const fail = (slot: Slot, err: Error): void => {
    slot.worker = undefined;
    const pending = [...slot.pending.values()];
    slot.pending.clear();
    for (const p of pending) p.reject(err);
  };

  const start = (slot: Slot): Worker => {
    const w = new Worker(WORKER_SOURCE, { eval: true });
    w.on('message', (r: Reply) => {
      const p = slot.pending.get(r.id);
      if (!p) return;
      slot.pending.delete(r.id);
      if (slot.pending.size === 0) w.unref();
      const all = new Uint8Array(r.out);
      const out: Uint8Array[] = [];
      let at = 0;
      for (const n of r.lengths) {
        out.push(all.subarray(at, at + n));
        at += n;
      }
      p.resolve(r.error ? { out, error: r.error } : { out });
    });
    w.on('error', (err) => {
      if (slot.worker === w) fail(slot, new Error(`inflate worker failed: ${err.message}`, { cause: err }));
    });
    w.on('exit', (code) => {
      if (slot.worker === w) fail(slot, new Error(`inflate worker exited (code ${code})`));
    });
    // After the listeners (a 'message' listener refs the port again): referenced only while it has
    // work, so an idle pool never holds the process open.
    w.unref();
    slot.worker = w;
    return w;
  };

  // Started now rather than on the first batch: a worker takes tens of ms to boot, which would
  // otherwise sit on the critical path of the first file read. Unreferenced, so this costs no exit delay.
  for (const slot of slots) start(slot);

  const batchInflate: BatchInflate = (blocks, maxOut) => {
    if (closed) return Promise.reject(new Error('inflate pool is closed'));
    let slot = slots[0]!;
    for (const s of slots) if (s.pending.size < slot.pending.size) slot = s;
    const w = slot.worker ?? start(slot);
    const offsets = [0];
    let total = 0;
    for (const b of blocks) offsets.push((total += b.length));
    const input = new Uint8Array(total);
    for (let i = 0; i < blocks.length; i++) input.set(blocks[i]!, offsets[i]!);
    const id = nextId++;
    return new Promise<BatchResult>((resolve, reject) => {
      if (slot.pending.size === 0) w.ref();
      slot.pending.set(id, { resolve, reject });
      w.postMessage({ id, input: input.buffer, offsets, maxOut }, [input.buffer]);
    });
  };

  return {
    batchInflate,
    async close() {
      closed = true;
      await Promise.all(
        slots.map(async (slot) => {
          const w = slot.worker;
          if (!w) return;
          fail(slot, new Error('inflate pool is closed'));
          await w.terminate();
        }),
      );
    },
  };
}

let shared: InflatePool | undefined;

/**
 * The process's one pool, made on first use: every tcz a build reads shares the same two workers.
 * DBCO_INFLATE=inline turns it off (the synchronous path, for comparison and as a way out).
 */
export function sharedBatchInflate(): BatchInflate | undefined {
  if (process.env.DBCO_INFLATE === 'inline') return undefined;
  shared ??= createInflatePool();
  return shared.batchInflate;
}
