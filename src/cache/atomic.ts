import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';

/** A fresh, unguessable name inside `tmpDir`; the folder is created on demand. */
export async function tempName(tmpDir: string): Promise<string> {
  await mkdir(tmpDir, { recursive: true });
  return path.join(tmpDir, `${process.pid}-${randomBytes(8).toString('hex')}`);
}

/**
 * Makes `dest` appear whole or not at all: `produce` writes a fresh temp file in `tmpDir` (same
 * filesystem), which is fsynced and renamed into place; on any failure the temp file is removed.
 * Several processes may race; the last rename wins and each candidate is complete.
 */
export async function writeAtomicWith<T>(tmpDir: string, dest: string, produce: (fh: FileHandle) => Promise<T>, mode = 0o644): Promise<T> {
  const tmp = await tempName(tmpDir);
  let fh: FileHandle | undefined;
  try {
    fh = await open(tmp, 'wx', mode);
    const result = await produce(fh);
    await fh.sync();
    await fh.close();
    fh = undefined;
    await mkdir(path.dirname(dest), { recursive: true });
    await rename(tmp, dest);
    return result;
  } catch (err) {
    await fh?.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw err;
  }
}

/** writeAtomicWith for data already in memory. */
export async function writeFileAtomic(tmpDir: string, dest: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  await writeAtomicWith(tmpDir, dest, (fh) => fh.writeFile(data), mode);
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
