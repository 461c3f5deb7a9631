import type { EntryMeta } from './entry.js';

const TYPE_CHAR: Record<EntryMeta['kind'], string> = { file: '-', hardlink: '-', dir: 'd', symlink: 'l', char: 'c', block: 'b', fifo: 'p', socket: 's' };

/** `ls -l` style mode string, with s/S/t/T for setuid, setgid and sticky. */
export function modeString(kind: EntryMeta['kind'], mode: number): string {
  const rwx = (bits: number, special: boolean, on: string, off: string) =>
    `${bits & 4 ? 'r' : '-'}${bits & 2 ? 'w' : '-'}${special ? (bits & 1 ? on : off) : bits & 1 ? 'x' : '-'}`;
  return (
    TYPE_CHAR[kind] +
    rwx((mode >> 6) & 7, (mode & 0o4000) !== 0, 's', 'S') +
    rwx((mode >> 3) & 7, (mode & 0o2000) !== 0, 's', 'S') +
    rwx(mode & 7, (mode & 0o1000) !== 0, 't', 'T')
  );
}

/** One listing line in `unsquashfs -lln` layout: mode uid/gid size-or-dev date path [-> target | link to X]. */
export function listLine(e: EntryMeta): string {
  const sizeField = e.kind === 'char' || e.kind === 'block' ? `${e.devmajor ?? 0},${e.devminor ?? 0}` : String(e.kind === 'symlink' ? Buffer.byteLength(e.linkname ?? '') : e.size);
  const owner = `${e.uid}/${e.gid}`;
  const date = new Date(e.mtime * 1000).toISOString().slice(0, 16).replace('T', ' ');
  const suffix = e.kind === 'symlink' ? ` -> ${e.linkname}` : e.kind === 'hardlink' ? ` link to ${e.linkname}` : '';
  return `${modeString(e.kind, e.mode)} ${owner} ${sizeField.padStart(Math.max(1, 25 - owner.length))} ${date} ${e.path}${suffix}`;
}
