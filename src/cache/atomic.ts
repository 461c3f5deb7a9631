import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';

/** A fresh, unguessable name inside `tmpDir`; the folder is created on demand. */
export async function tempName(tmpDir: string): Promise<string> {
  await mkdir(tmpDir, { recursive: true });
  return path.join(tmpDir, `${process.pid}-${randomBytes(8).toString('hex')}`);
}

/**
 * Writes `data` to `dest` so readers see the old file or the whole new one, never a prefix: write a
 * temp file in the same filesystem, fsync, rename. Several processes may race; the last rename wins
 * and each candidate is complete.
 */
export async function writeFileAtomic(tmpDir: string, dest: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  const tmp = await tempName(tmpDir);
  try {
    const fh = await open(tmp, 'wx', mode);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await mkdir(path.dirname(dest), { recursive: true });
    await rename(tmp, dest);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/**
 * Removes temp files older than `maxAgeMs`: leftovers of crashed processes. Age (not a lock file) is
 * what makes this safe: a live writer's temp file is younger than any sane threshold.
 */
export async function removeStaleTemps(tmpDir: string, maxAgeMs: number, now = Date.now()): Promise<number> {
  let names: string[];
  try {
    names = await readdir(tmpDir);
  } catch {
    return 0;
  }
  let removed = 0;
  for (const name of names) {
    const p = path.join(tmpDir, name);
    try {
      const st = await stat(p);
      if (now - st.mtimeMs > maxAgeMs) {
        await rm(p, { force: true, recursive: true });
        removed++;
      }
    } catch {
      // Another process removed or renamed it meanwhile: nothing to do.
    }
  }
  return removed;
}
