import { randomBytes } from 'node:crypto';
import { readdirSync, readlinkSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, open, readdir, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { DbcoError } from '../errors.js';
import { interrupted, onInterrupt } from '../io/interrupt.js';

/**
 * The pid namespace this process lives in ('4026531836' from /proc/self/ns/pid), so a sweep judges the
 * liveness of a temp file's writer only by a pid of its own namespace (a cache folder can be shared
 * with a container). '0' where /proc does not tell.
 */
function pidNamespace(): string {
  try {
    return /\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/pid'))?.[1] ?? '0';
  } catch {
    return '0';
  }
}

const OWN_NS = pidNamespace();
/** Every temp name starts with this: the writer's pid and pid namespace. */
const OWN_PREFIX = `${process.pid}-${OWN_NS}-`;
const NAME = /^\.?(\d+)-(\d+)-/;

/** `<pid>-<pid namespace>-`: how this process's temp names begin. */
export function tempPrefix(): string {
  return OWN_PREFIX;
}
const watchedDirs = new Set<string>();

/** How long an interrupt waits for file opens already on their way before it looks again. */
const SETTLE_MS = 100;

/**
 * On SIGINT/SIGTERM, removes this process's temp files from `dir`, then again once opens already in
 * flight have landed (an open queued on libuv's thread pool, or a temp name handed out just before the
 * signal, creates its file after the first sweep; seen once in CI), and a last time as the process exits.
 * No new temp name is handed out once the signal arrived (refuseWhenInterrupted).
 */
function watchTempDir(dir: string): void {
  if (watchedDirs.has(dir)) return;
  watchedDirs.add(dir);
  onInterrupt(async () => {
    removeOwnTemps(dir);
    process.once('exit', () => removeOwnTemps(dir));
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    removeOwnTemps(dir);
  }, `temp files in ${dir}`);
}

/** Removes this process's temp files (and temp folders) from `dir`. */
export function removeOwnTemps(dir: string): number {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return 0;
  }
  let removed = 0;
  for (const name of names) {
    if (!name.startsWith(OWN_PREFIX) && !name.startsWith(`.${OWN_PREFIX}`)) continue;
    rmSync(path.join(dir, name), { recursive: true, force: true });
    removed++;
  }
  return removed;
}

function refuseWhenInterrupted(): void {
  const signal = interrupted();
  if (signal) throw new DbcoError('INTERRUPTED', `interrupted by ${signal}`);
}

/**
 * This process's next temp name in `dir`, which interrupts sweep; none once a signal arrived. `hidden`:
 * a dot file ending .dbco-tmp, for a user's own folder (an output written beside where it will stand).
 */
function ownTempPath(dir: string, hidden = false): string {
  refuseWhenInterrupted();
  watchTempDir(dir);
  const name = `${OWN_PREFIX}${randomBytes(8).toString('hex')}`;
  return path.join(dir, hidden ? `.${name}.dbco-tmp` : name);
}

/** A fresh, unguessable name inside `tmpDir`; the folder is created on demand. */
export async function tempName(tmpDir: string, opts: { hidden?: boolean } = {}): Promise<string> {
  refuseWhenInterrupted();
  await mkdir(tmpDir, { recursive: true });
  return ownTempPath(tmpDir, opts.hidden);
}

/**
 * Folders this process created or found (a cold build writes ~100 cache files into a handful of folders:
 * one mkdir each instead of two per file). Someone may remove one meanwhile (gc, a test): againInNewDir.
 */
const madeDirs = new Set<string>();

async function madeDir(dir: string): Promise<void> {
  if (madeDirs.has(dir)) return;
  await mkdir(dir, { recursive: true });
  madeDirs.add(dir);
}

/** Runs `op` (an open or rename into `dir`); if `dir` is gone (ENOENT), makes it again and retries once. */
async function againInNewDir<T>(dir: string, op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    madeDirs.delete(dir);
    await madeDir(dir);
    return op();
  }
}

/** A fresh temp folder inside `tmpDir`, named like temp files so interrupts and sweeps treat it alike. */
export async function tempFolder(tmpDir: string, label: string): Promise<string> {
  refuseWhenInterrupted();
  await mkdir(tmpDir, { recursive: true });
  watchTempDir(tmpDir);
  return mkdtemp(path.join(tmpDir, `${OWN_PREFIX}${label}-`));
}

/** Whether the process that wrote temp file `name` is gone: by pid in our namespace, else unknown (false). */
export function writerIsGone(name: string, isAlive: (pid: number) => boolean = pidAlive): boolean {
  const m = NAME.exec(name);
  if (!m || m[2] !== OWN_NS) return false;
  const pid = Number(m[1]);
  if (pid === process.pid) return false;
  return !isAlive(pid);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Makes `dest` appear whole or not at all: `produce` writes a fresh temp file in `tmpDir` (same
 * filesystem), which is fsynced and renamed into place; on any failure the temp file is removed.
 * Several processes may race; the last rename wins and each candidate is complete.
 *
 * `hidden`: the temp file is a dot file (tmpDir is then the user's output folder, see ownTempPath).
 * `durable: false` leaves out the fsync, for JSON records only (docs/reliability.md, "Durability"): after
 * a power loss such a file may be empty or torn, which its reader takes for absent and rebuilds, and the
 * data a record vouches for was made durable before the record was written.
 */
export async function writeAtomicWith<T>(
  tmpDir: string, dest: string, produce: (fh: FileHandle) => Promise<T>,
  opts: { mode?: number; durable?: boolean; hidden?: boolean } = {},
): Promise<T> {
  refuseWhenInterrupted();
  await madeDir(tmpDir);
  const tmp = ownTempPath(tmpDir, opts.hidden);
  let fh: FileHandle | undefined;
  try {
    fh = await againInNewDir(tmpDir, () => open(tmp, 'wx', opts.mode ?? 0o644));
    const result = await produce(fh);
    if (opts.durable !== false) await fh.sync();
    await fh.close();
    fh = undefined;
    const destDir = path.dirname(dest);
    await madeDir(destDir);
    await againInNewDir(destDir, () => rename(tmp, dest));
    return result;
  } catch (err) {
    await fh?.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw err;
  }
}

/** writeAtomicWith for data already in memory. */
export async function writeFileAtomic(tmpDir: string, dest: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  await writeAtomicWith(tmpDir, dest, (fh) => fh.writeFile(data), { mode });
}

/**
 * A cache record (JSON whose reader treats a missing, empty or torn file as absent) written whole or not
 * at all, without the fsync: a crash may lose it, never make it say something else.
 */
export async function writeRecordAtomic(tmpDir: string, dest: string, json: string): Promise<void> {
  await writeAtomicWith(tmpDir, dest, (fh) => fh.writeFile(json), { durable: false });
}

/**
 * Removes what crashed processes left in `tmpDir`: entries whose writer (pid in the name, same pid
 * namespace) is no longer running, and any entry older than `maxAgeMs` (a pid reused since, a writer in
 * another namespace, names from older dbco versions). A live writer's files are never touched.
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
      const dead = writerIsGone(name);
      if (dead || now - (await stat(p)).mtimeMs > maxAgeMs) {
        await rm(p, { force: true, recursive: true });
        removed++;
      }
    } catch {
      // Another process removed or renamed it meanwhile: nothing to do.
    }
  }
  return removed;
}
