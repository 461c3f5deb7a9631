import { rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { tempName, writeAtomicWith } from '../../cache/atomic.js';
import { HashingFile } from '../../io/hashing-file.js';
import { writeChunks } from '../../rootfs/derived-store.js';

/**
 * Streams chunks into `dest` atomically (temp file beside it, fsync, rename), hashing on the way, so
 * a crash or a failure leaves either no file or the previous complete one.
 */
export async function writeStreamAtomic(chunks: AsyncIterable<Uint8Array>, dest: string): Promise<{ sha256: string; size: number }> {
  const tmp = await tempName(path.dirname(path.resolve(dest)), { hidden: true });
  const file = await HashingFile.create(tmp);
  try {
    for await (const chunk of chunks) await file.write(chunk);
    const { sha256, size } = await file.finish();
    await rename(tmp, dest);
    return { sha256, size };
  } catch (err) {
    await file.abandon();
    await rm(tmp, { force: true });
    throw err;
  }
}

/**
 * writeStreamAtomic for a file nobody needs the digest of (the --output archive: its digests are the
 * manifest's, known before it is written): no md5/sha256 over every byte (~20 ms per 10 MB on the
 * critical path), and small chunks (tar headers) batched into few writes.
 */
export async function writeOutputAtomic(chunks: AsyncIterable<Uint8Array>, dest: string): Promise<{ size: number }> {
  const size = await writeAtomicWith(path.dirname(path.resolve(dest)), dest, (fh) => writeChunks(fh, chunks), { hidden: true });
  return { size };
}
