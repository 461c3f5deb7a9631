/**
 * A real folder, a streaming reader's output or a list of dbco entries as one comparable shape, so a
 * test can say "dbco's tree is what the real tool extracted" with one toEqual (or diffTrees).
 */
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { kindFromIfmt, type Entry, type EntryMeta } from '../../src/formats/entry.js';
import type { StreamEntry } from '../../src/formats/stream-reader.js';

/** What two trees must agree on. Optional fields appear only for the kinds (and options) that have them. */
export interface Node {
  kind: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Whole seconds; files only, with `mtime: true`. */
  mtime?: number;
  /** Symlink target as stored. */
  link?: string;
  sha256?: string;
  /** `major,minor` of a char or block device. */
  dev?: string;
  /** Sorted paths sharing this file's data when more than one; with `hardLinks: true`. */
  links?: string[];
}
export type Tree = Map<string, Node>;

export interface TreeOptions {
  /** Compare file mtimes: archive round trips must keep them; a rootfs sets its own epoch. */
  mtime?: boolean;
  /**
   * Compare hard-link groups, and a link entry's own mode and owner. Without it a hard link is simply
   * its target's node, which is all a layered rootfs promises.
   */
  hardLinks?: boolean;
  /** Every symlink's mode becomes this: Linux reads a symlink back as 0777 whatever its archive said. */
  symlinkMode?: number;
}

type Meta = Omit<EntryMeta, 'path'>;

function nodeOf(m: Meta, opts: TreeOptions): Node {
  const mode = m.kind === 'symlink' && opts.symlinkMode !== undefined ? opts.symlinkMode : m.mode;
  const n: Node = { kind: m.kind, mode, uid: m.uid, gid: m.gid, size: m.size };
  if (m.kind === 'file' && opts.mtime) n.mtime = m.mtime;
  if (m.kind === 'symlink') n.link = m.linkname!;
  if (m.kind === 'char' || m.kind === 'block') n.dev = `${m.devmajor},${m.devminor}`;
  return n;
}

function linkNode(link: Meta, target: Node, opts: TreeOptions): Node {
  return opts.hardLinks ? { ...target, mode: link.mode, uid: link.uid, gid: link.gid } : { ...target };
}

/** Groups keyed by the path (or inode) holding the data; members get `links` only with `hardLinks: true`. */
function withLinks(tree: Tree, groups: Map<unknown, string[]>, opts: TreeOptions): Tree {
  if (!opts.hardLinks) return tree;
  for (const members of groups.values()) {
    if (members.length < 2) continue;
    const sorted = [...members].sort();
    for (const m of sorted) tree.get(m)!.links = sorted;
  }
  return tree;
}

async function digest(m: EntryMeta, body: AsyncIterable<Uint8Array>): Promise<string> {
  const h = createHash('sha256');
  let n = 0;
  for await (const b of body) {
    h.update(b);
    n += b.length;
  }
  if (n !== m.size) throw new Error(`${m.path}: body ${n} bytes, size ${m.size}`);
  return h.digest('hex');
}

async function* noBody(): AsyncGenerator<Uint8Array> {}

/** Tree of a streaming reader's output; every file body drained and hashed. A hard link must follow its data. */
export async function treeOfStream(entries: AsyncIterable<StreamEntry>, opts: TreeOptions = {}): Promise<Tree> {
  const tree: Tree = new Map();
  const groups = new Map<string, string[]>();
  for await (const { entry, body } of entries) {
    if (entry.kind === 'hardlink') {
      const target = tree.get(entry.linkname!);
      if (!target) throw new Error(`hardlink ${entry.path} before its target ${entry.linkname}`);
      tree.set(entry.path, linkNode(entry, target, opts));
      groups.set(entry.linkname!, [...(groups.get(entry.linkname!) ?? [entry.linkname!]), entry.path]);
      continue;
    }
    const n = nodeOf(entry, opts);
    if (entry.kind === 'file') n.sha256 = await digest(entry, body);
    tree.set(entry.path, n);
  }
  return withLinks(tree, groups, opts);
}

/** Tree of entries read through open(). Links may come before their data or point at other links (layers do both). */
export async function treeOfEntries(entries: Iterable<Entry>, opts: TreeOptions = {}): Promise<Tree> {
  const list = [...entries];
  const byPath = new Map(list.map((e) => [e.path, e]));
  const dataPath = (e: Entry): string => {
    let d = e;
    for (let hops = 0; d.kind === 'hardlink'; hops++) {
      const next = byPath.get(d.linkname!);
      if (!next || hops === 10) throw new Error(`hardlink ${e.path}: no data behind ${d.linkname}`);
      d = next;
    }
    return d.path;
  };
  async function* dataFirst(): AsyncGenerator<StreamEntry> {
    for (const e of list) if (e.kind !== 'hardlink') yield { entry: e, body: e.open ? e.open() : noBody() };
    for (const e of list) if (e.kind === 'hardlink') yield { entry: { ...e, linkname: dataPath(e) }, body: noBody() };
  }
  return treeOfStream(dataFirst(), opts);
}

/** Tree of a real folder (lstat + read), paths relative to `root`. */
export function treeOfDir(root: string, opts: TreeOptions = {}): Tree {
  const tree: Tree = new Map();
  const byInode = new Map<number, string[]>();
  const walk = (rel: string): void => {
    for (const name of readdirSync(path.join(root, rel)).sort()) {
      const p = rel ? `${rel}/${name}` : name;
      const abs = path.join(root, p);
      const st = lstatSync(abs);
      const kind = kindFromIfmt(st.mode)!;
      const n = nodeOf({
        kind,
        mode: st.mode & 0o7777,
        uid: st.uid,
        gid: st.gid,
        size: kind === 'file' ? st.size : 0,
        mtime: Math.floor(st.mtimeMs / 1000),
        linkname: kind === 'symlink' ? readlinkSync(abs) : undefined,
        // glibc's gnu_dev_major/minor: 12+32 bits of major, 20 bits of minor
        devmajor: ((st.rdev >> 8) & 0xfff) | (Math.floor(st.rdev / 2 ** 32) & ~0xfff),
        devminor: (st.rdev & 0xff) | ((st.rdev >> 12) & 0xfff00),
      }, opts);
      if (kind === 'file') {
        n.sha256 = createHash('sha256').update(readFileSync(abs)).digest('hex');
        if (st.nlink > 1) byInode.set(st.ino, [...(byInode.get(st.ino) ?? []), p]);
      }
      tree.set(p, n);
      if (kind === 'dir') walk(p);
    }
  };
  walk('');
  return withLinks(tree, byInode, opts);
}

/** Human-readable differences (the first `limit`), empty when the trees match. */
export function diffTrees(expected: Tree, actual: Tree, ignore: (p: string) => boolean = () => false, limit = 20): string[] {
  const problems: string[] = [];
  for (const [p, e] of expected) {
    if (ignore(p)) continue;
    const a = actual.get(p);
    if (!a) problems.push(`missing ${p}`);
    else if (JSON.stringify(a) !== JSON.stringify(e)) problems.push(`differs ${p}: expected ${JSON.stringify(e)} got ${JSON.stringify(a)}`);
  }
  for (const p of actual.keys()) if (!expected.has(p) && !ignore(p)) problems.push(`extra ${p}`);
  return problems.slice(0, limit);
}
