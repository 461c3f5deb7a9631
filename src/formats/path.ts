import { UnsafePathError } from '../errors.js';

/**
 * Normalizes an archive member name to the entry model's form (see docs/formats.md):
 * leading '/' and './' are dropped, '//' and '.' components collapse, a trailing '/' goes.
 * Returns '' for the archive root itself; callers decide whether '' is acceptable (a root dir
 * entry is skipped by every reader, anything else named '' is refused).
 * '..' components and NUL are refused outright rather than resolved: resolving them would let an
 * archive address something it does not contain, and silently dropping them would change meaning.
 */
export function safePath(raw: string): string {
  if (raw.includes('\0')) throw new UnsafePathError(raw, 'contains NUL');
  const parts: string[] = [];
  for (const part of raw.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') throw new UnsafePathError(raw, "contains a '..' component");
    parts.push(part);
  }
  return parts.join('/');
}

/** safePath for a member that must name something below the root. */
export function safeMemberPath(raw: string): string {
  const p = safePath(raw);
  if (p === '') throw new UnsafePathError(raw, 'names the archive root or nothing');
  return p;
}

/**
 * Refuses members below a symlink of the same archive ('a' -> '/etc', then 'a/passwd'): an extractor
 * would write through the link, outside its root. Real archives never need this (tar and mksquashfs
 * record the link, not what it points to). A later non-symlink member with the same path lifts it.
 */
export class SymlinkGuard {
  private links = new Set<string>();

  check(path: string, kind: string): void {
    if (this.links.size > 0) {
      for (let i = path.indexOf('/'); i >= 0; i = path.indexOf('/', i + 1)) {
        const parent = path.slice(0, i);
        if (this.links.has(parent)) throw new UnsafePathError(path, `lies below symlink ${JSON.stringify(parent)}`);
      }
    }
    if (kind === 'symlink') this.links.add(path);
    else this.links.delete(path);
  }
}
