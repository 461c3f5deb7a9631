/** Test support for the format suites: compare what dbco reads with what real tools extract. */
import { createHash } from 'node:crypto';
import { createReadStream, lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import type { Entry, EntryMeta } from '../../src/formats/entry.js';
import type { StreamEntry } from '../../src/formats/stream-reader.js';

export interface Node {
  kind: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime?: number;
  linkname?: string;
  sha256?: string;
  dev?: string;
  /** Sorted paths sharing this file's inode, when more than one. */
  links?: string[];
}
export type Tree = Record<string, Node>;

export async function* fileChunks(file: string): AsyncGenerator<Uint8Array> {
  for await (const b of createReadStream(file, { highWaterMark: 64 * 1024 })) yield b as Buffer;
}

export async function* bytesChunks(b: Uint8Array, size = 7919): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
}

export async function collect(chunks: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const b of chunks) parts.push(Buffer.from(b));
  return Buffer.concat(parts);
}

async function sha(chunks: AsyncIterable<Uint8Array>): Promise<{ hex: string; n: number }> {
  const h = createHash('sha256');
  let n = 0;
  for await (const b of chunks) {
    h.update(b);
    n += b.length;
  }
  return { hex: h.digest('hex'), n };
}

function finishLinks(tree: Tree, groups: Map<unknown, string[]>): Tree {
  for (const members of groups.values()) {
    if (members.length < 2) continue;
    const sorted = [...members].sort();
    for (const m of sorted) tree[m]!.links = sorted;
  }
  return tree;
}

function nodeOf(m: EntryMeta): Node {
  const n: Node = { kind: m.kind, mode: m.mode, uid: m.uid, gid: m.gid, size: m.size };
  if (m.kind === 'file') n.mtime = m.mtime;
  if (m.kind === 'symlink') n.linkname = m.linkname!;
  if (m.kind === 'char' || m.kind === 'block') n.dev = `${m.devmajor},${m.devminor}`;
  return n;
}

/** Tree of a streaming reader's output; every body drained and hashed. */
export async function treeFromStream(entries: AsyncIterable<StreamEntry>): Promise<Tree> {
  const tree: Tree = {};
  const groups = new Map<string, string[]>();
  for await (const { entry, body } of entries) {
    if (entry.kind === 'hardlink') {
      const t = tree[entry.linkname!];
      if (!t) throw new Error(`hardlink ${entry.path} before its target ${entry.linkname}`);
      tree[entry.path] = { ...t, mode: entry.mode, uid: entry.uid, gid: entry.gid };
      groups.get(entry.linkname!)!.push(entry.path);
      continue;
    }
    const n = nodeOf(entry);
    if (entry.kind === 'file') {
      const s = await sha(body);
      if (s.n !== entry.size) throw new Error(`${entry.path}: body ${s.n} bytes, size ${entry.size}`);
      n.sha256 = s.hex;
      groups.set(entry.path, [entry.path]);
    }
    tree[entry.path] = n;
  }
  return finishLinks(tree, groups);
}

export async function treeFromEntries(entries: Iterable<Entry>): Promise<Tree> {
  async function* asStream(): AsyncGenerator<StreamEntry> {
    for (const e of entries) yield { entry: e, body: e.open ? e.open() : (async function* () {})() };
  }
  return treeFromStream(asStream());
}

/** Tree of an extracted directory (lstat + read), paths relative to `root`. */
export async function treeFromDir(root: string): Promise<Tree> {
  const tree: Tree = {};
  const byIno = new Map<number, string[]>();
  const walk = async (rel: string) => {
    for (const name of readdirSync(path.join(root, rel)).sort()) {
      const p = rel ? `${rel}/${name}` : name;
      const abs = path.join(root, p);
      const st = lstatSync(abs);
      const fmt = st.mode & 0o170000;
      const kind = ({ 0o100000: 'file', 0o040000: 'dir', 0o120000: 'symlink', 0o020000: 'char', 0o060000: 'block', 0o010000: 'fifo', 0o140000: 'socket' } as Record<number, string>)[fmt]!;
      const n: Node = { kind, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, size: kind === 'file' ? st.size : 0 };
      if (kind === 'file') {
        n.mtime = Math.floor(st.mtimeMs / 1000);
        n.sha256 = createHash('sha256').update(readFileSync(abs)).digest('hex');
        if (st.nlink > 1) byIno.set(st.ino, [...(byIno.get(st.ino) ?? []), p]);
      }
      if (kind === 'symlink') n.linkname = readlinkSync(abs);
      if (kind === 'char' || kind === 'block') {
        const major = ((st.rdev >> 8) & 0xfff) | (Math.floor(st.rdev / 2 ** 32) & ~0xfff);
        const minor = (st.rdev & 0xff) | ((st.rdev >> 12) & 0xfff00);
        n.dev = `${major},${minor}`;
      }
      tree[p] = n;
      if (kind === 'dir') await walk(p);
    }
  };
  await walk('');
  return finishLinks(tree, byIno);
}
