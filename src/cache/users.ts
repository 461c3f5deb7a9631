import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { onInterrupt } from '../io/interrupt.js';
import { tempPrefix, writerIsGone } from './atomic.js';

/**
 * Builds announce themselves in <cache>/users/ (one empty file per process, named like temp files: pid
 * and pid namespace), so `dbco cache gc` leaves blobs and derived layers alone while a build may still
 * read them. The file goes at exit or interrupt; a kill -9 leaves it, and its dead pid is ignored.
 */
const registered = new Set<string>();

export function announceUser(cacheRoot: string): void {
  const dir = path.join(cacheRoot, 'users');
  const file = path.join(dir, tempPrefix().slice(0, -1));
  if (registered.has(file)) return;
  registered.add(file);
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(file, '');
  } catch {
    return; // a read-only cache: nothing to protect from gc there
  }
  const remove = (): void => rmSync(file, { force: true });
  process.once('exit', remove);
  onInterrupt(remove, `cache user mark ${file}`);
}

/** Live builds using the cache (other than this process); marks of dead processes are removed. */
export function liveUsers(cacheRoot: string): string[] {
  const dir = path.join(cacheRoot, 'users');
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const own = tempPrefix().slice(0, -1);
  return names.filter((n) => {
    if (n === own) return false;
    // writerIsGone reads `<pid>-<ns>-...`; a mark is `<pid>-<ns>`.
    if (writerIsGone(`${n}-`)) {
      rmSync(path.join(dir, n), { force: true });
      return false;
    }
    return true;
  });
}
