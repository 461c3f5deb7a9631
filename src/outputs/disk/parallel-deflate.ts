/**
 * streamOptimized VMDK grains compressed off the main thread: zlib's asynchronous deflate runs on
 * libuv's thread pool, so several grains in flight use every core while the pure writer
 * (src/formats/disk/vmdk.ts) keeps them in order. Same zlib, same level: the same bytes as the
 * writer's own synchronous deflate.
 */
import { availableParallelism } from 'node:os';
import { promisify } from 'node:util';
import { deflate } from 'node:zlib';
import type { VmdkOptions } from '../../formats/disk/vmdk.js';

const deflateAsync = promisify(deflate);

/** The grain level the writer uses by default. */
const LEVEL = 6;

/** Options for writeVmdk that deflate grains in parallel: a few per core keep the pool busy. */
export function parallelGrainDeflate(level = LEVEL): Pick<VmdkOptions, 'deflate' | 'inFlight' | 'level'> {
  return {
    level,
    deflate: (grain) => deflateAsync(grain, { level }),
    inFlight: Math.max(2, availableParallelism() * 4),
  };
}
