import { FormatError } from '../../errors.js';
import { KIND_TO_IFMT, type Entry } from '../entry.js';
import { bodiesInOrder, planEntries, type PlannedEntry } from '../write-plan.js';
import { encodeHeader, HEADER_SIZE, pad4, TRAILER } from './newc.js';

const enc = new TextEncoder();

/**
 * Deterministic newc writer: the same entries in any order give the same bytes. Inodes are numbered
 * 1.. in path order; a hard-link group shares one inode and newc's convention puts its data on the
 * group's last member. Sockets are written (newc can hold them); the root directory is not.
 */
export async function* writeCpio(entries: Iterable<Entry> | AsyncIterable<Entry>): AsyncGenerator<Uint8Array> {
  const plan = await planEntries(entries, 'cpio');
  const subdirs = new Map<string, number>();
  for (const { entry } of plan) {
    if (entry.kind !== 'dir') continue;
    const slash = entry.path.lastIndexOf('/');
    const parent = slash < 0 ? '' : entry.path.slice(0, slash);
    subdirs.set(parent, (subdirs.get(parent) ?? 0) + 1);
  }
  let offset = 0;
  let nextIno = 1;
  const groupIno = new Map<string, number>();
  const emit = (b: Uint8Array): Uint8Array => {
    offset += b.length;
    return b;
  };
  const header = (name: string, fields: { ino: number; mode: number; uid: number; gid: number; nlink: number; mtime: number; filesize: number; rdevmajor: number; rdevminor: number }): Uint8Array => {
    const nameBytes = enc.encode(name);
    const len = HEADER_SIZE + nameBytes.length + 1;
    const out = new Uint8Array(len + pad4(offset + len));
    for (const [k, v] of Object.entries(fields)) {
      if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new FormatError('cpio', `${name}: ${k} ${v} does not fit newc's 32-bit field`);
    }
    out.set(enc.encode(encodeHeader({ ...fields, devmajor: 0, devminor: 0, namesize: nameBytes.length + 1, check: 0 })), 0);
    out.set(nameBytes, HEADER_SIZE);
    return out;
  };

  const bodies = bodiesInOrder(plan, carriesData, 'cpio');
  try {
    for (const { entry: e, group } of plan) {
      const kind = e.kind;
      if (kind === 'hardlink') throw new FormatError('cpio', `${e.path}: unresolved hard link`);
      let ino: number;
      let nlink = 1;
      let isLast = true;
      if (group && kind === 'file') {
        const key = group[0]!;
        ino = groupIno.get(key) ?? nextIno++;
        groupIno.set(key, ino);
        nlink = group.length;
        isLast = group[group.length - 1] === e.path;
      } else {
        ino = nextIno++;
        if (kind === 'dir') nlink = 2 + (subdirs.get(e.path) ?? 0);
      }
      const isDev = kind === 'char' || kind === 'block';
      let data: Uint8Array | null = null;
      let size = 0;
      if (kind === 'symlink') {
        if (!e.linkname) throw new FormatError('cpio', `${e.path}: symlink without target`);
        data = enc.encode(e.linkname);
        size = data.length;
      } else if (kind === 'file' && isLast) {
        size = e.size;
      }
      yield emit(
        header(e.path, {
          ino,
          mode: KIND_TO_IFMT[kind] | (e.mode & 0o7777),
          uid: e.uid,
          gid: e.gid,
          nlink,
          mtime: e.mtime,
          filesize: size,
          rdevmajor: isDev ? (e.devmajor ?? 0) : 0,
          rdevminor: isDev ? (e.devminor ?? 0) : 0,
        }),
      );
      if (data) yield emit(data);
      else if (kind === 'file' && isLast) for await (const b of bodies.next(e)) yield emit(b);
      if (pad4(offset)) yield emit(new Uint8Array(pad4(offset)));
    }
  } finally {
    await bodies.close();
  }
  yield emit(header(TRAILER, { ino: 0, mode: 0, uid: 0, gid: 0, nlink: 1, mtime: 0, filesize: 0, rdevmajor: 0, rdevminor: 0 }));
  // Block-aligned like GNU cpio, so archives concatenate cleanly (TC appends extra initrds).
  const tail = (512 - (offset % 512)) % 512;
  if (tail) yield emit(new Uint8Array(tail));
}

/** newc puts a hard-link group's data on its last member. */
function carriesData({ entry, group }: PlannedEntry): boolean {
  return entry.kind === 'file' && (!group || group[group.length - 1] === entry.path);
}
