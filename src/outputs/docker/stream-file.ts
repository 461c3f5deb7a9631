import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { tempName } from '../../cache/atomic.js';
import { HashingFile } from '../../io/hashing-file.js';

/**
 * Streams chunks into `dest` atomically (temp file beside it, fsync, rename), hashing on the way, so
 * a crash or a failure leaves either no file or the previous complete one.
 */
export async function writeStreamAtomic(chunks: AsyncIterable<Uint8Array>, dest: string): Promise<{ sha256: string; size: number }> {
  const dir = path.dirname(path.resolve(dest));
  await mkdir(dir, { recursive: true });
  const tmp = await tempName(dir).then((p) => path.join(dir, `.${path.basename(p)}.dbco-tmp`));
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
