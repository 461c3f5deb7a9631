/**
 * The one entry model every format reader emits and every writer consumes. Paths are already safe
 * (see path.ts): relative, '/'-separated, no '', '.' or '..' components, no NUL. The archive's own
 * root directory is never an entry.
 */
export type EntryKind = 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo' | 'socket';

export interface EntryMeta {
  path: string;
  kind: EntryKind;
  /** Permission bits including setuid/setgid/sticky (mask 0o7777). The type lives in `kind`. */
  mode: number;
  uid: number;
  gid: number;
  /** Seconds since the epoch. */
  mtime: number;
  /** Content length for 'file'; 0 for every other kind. */
  size: number;
  /** Symlink target as stored (may be absolute: it is data, never followed); for 'hardlink', the path of the entry that holds the data. */
  linkname?: string;
  /** Device numbers for 'char' and 'block'. */
  devmajor?: number;
  devminor?: number;
}

export interface Entry extends EntryMeta {
  /**
   * Lazily reads a 'file' entry's bytes. Each call starts a fresh read, so an entry can be streamed
   * into several outputs without holding its contents. Absent for every other kind.
   */
  open?: () => AsyncIterable<Uint8Array>;
}

/** Type bits as in stat(2), for formats that store mode and type together (cpio, tar). */
export const S_IFMT = 0o170000;
export const KIND_TO_IFMT: Record<Exclude<EntryKind, 'hardlink'>, number> = {
  socket: 0o140000,
  symlink: 0o120000,
  file: 0o100000,
  block: 0o060000,
  dir: 0o040000,
  char: 0o020000,
  fifo: 0o010000,
};

export function kindFromIfmt(mode: number): Exclude<EntryKind, 'hardlink'> | undefined {
  const t = mode & S_IFMT;
  for (const [k, v] of Object.entries(KIND_TO_IFMT)) if (v === t) return k as Exclude<EntryKind, 'hardlink'>;
  return undefined;
}

/** Byte order used everywhere entries are sorted (layers, tar, cpio): plain code-unit comparison of paths. */
export function comparePaths(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
