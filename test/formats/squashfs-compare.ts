/**
 * The tree dbco reads from a squashfs image, and the tree unsquashfs lists (-lln) and extracts (-d),
 * in one comparable shape. Shared by the real-tcz and generated-image suites.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import path from 'node:path';
import { openSquashfs } from '../../src/formats/squashfs/index.js';
import { openFileSource } from '../../src/io/file-source.js';

export interface Node {
  path: string;
  kind: string;
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  size?: number;
  linkname?: string;
  dev?: string;
  sha256?: string;
}

export interface Tree {
  nodes: Node[];
  /** Hard-link groups: sorted paths of each group, groups sorted. */
  links: string[][];
}

export async function dbcoTree(image: string): Promise<Tree> {
  const src = await openFileSource(image);
  try {
    const fs = await openSquashfs(src);
    const nodes: Node[] = [];
    const byPath = new Map<string, Node>();
    const groups = new Map<string, string[]>();
    for await (const e of fs.entries()) {
      let node: Node;
      if (e.kind === 'hardlink') {
        const first = byPath.get(e.linkname!);
        if (!first) throw new Error(`hardlink ${e.path} names ${e.linkname}, not emitted before it`);
        node = { ...first, path: e.path };
        groups.get(e.linkname!)!.push(e.path);
      } else {
        node = { path: e.path, kind: e.kind, mode: e.mode, uid: e.uid, gid: e.gid, mtime: e.mtime };
        if (e.kind === 'file') {
          node.size = e.size;
          const h = createHash('sha256');
          let n = 0;
          for await (const chunk of e.open!()) {
            h.update(chunk);
            n += chunk.length;
          }
          if (n !== e.size) throw new Error(`${e.path}: read ${n} bytes, size says ${e.size}`);
          node.sha256 = h.digest('hex');
        }
        if (e.kind === 'symlink') node.linkname = e.linkname!;
        if (e.kind === 'char' || e.kind === 'block') node.dev = `${e.devmajor},${e.devminor}`;
        groups.set(e.path, [e.path]);
      }
      nodes.push(node);
      byPath.set(e.path, node);
    }
    const links = [...groups.values()].filter((g) => g.length > 1).map((g) => g.sort()).sort();
    return { nodes, links };
  } finally {
    await src.close();
  }
}

const KIND_OF_CHAR: Record<string, string> = { '-': 'file', d: 'dir', l: 'symlink', c: 'char', b: 'block', p: 'fifo', s: 'socket' };

function parsePerms(s: string): number {
  let m = 0;
  const rw: [number, string, number][] = [[1, 'r', 0o400], [2, 'w', 0o200], [4, 'r', 0o40], [5, 'w', 0o20], [7, 'r', 0o4], [8, 'w', 0o2]];
  for (const [i, ch, bit] of rw) if (s[i] === ch) m |= bit;
  const x: [number, number, string][] = [[3, 0o100, 's'], [6, 0o10, 's'], [9, 0o1, 't']];
  const special = [0o4000, 0o2000, 0o1000];
  x.forEach(([i, bit, sp], k) => {
    const c = s[i];
    if (c === 'x' || c === sp) m |= bit;
    if (c === sp || c === sp.toUpperCase()) m |= special[k]!;
  });
  return m;
}

// glibc's encoding of dev_t (sys/sysmacros.h).
const linuxMajor = (rdev: number): number => ((rdev >>> 8) & 0xfff) | (Math.floor(rdev / 2 ** 32) & ~0xfff);
const linuxMinor = (rdev: number): number => (rdev & 0xff) | ((rdev >>> 12) & ~0xff);

const LINE = /^(\S{10}) (\d+)\/(\d+)\s+(\d+|\d+,\s*\d+) (\d{4}-\d\d-\d\d \d\d:\d\d) squashfs-root(?:\/(.*))?$/;

/** unsquashfs -lln for order, kinds, modes and devices; extraction (as root) for contents, owners, mtimes, links. */
export function unsquashfsTree(image: string, extractDir: string): Tree {
  const listing = execFileSync('unsquashfs', ['-lln', image], { env: { ...process.env, TZ: 'UTC' }, maxBuffer: 1 << 28 }).toString();
  rmSync(extractDir, { recursive: true, force: true });
  execFileSync('unsquashfs', ['-no-progress', '-d', extractDir, image], { stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 28 });
  const nodes: Node[] = [];
  const byIno = new Map<number, string[]>();
  for (const line of listing.split('\n')) {
    if (line === '') continue;
    const m = LINE.exec(line);
    if (!m) throw new Error(`unexpected unsquashfs -lln line: ${line}`);
    const [, perms, uid, gid, sizeCol, date, rest] = m;
    if (rest === undefined) continue; // the root
    const kind = KIND_OF_CHAR[perms![0]!]!;
    let p = rest;
    if (kind === 'symlink') p = rest.slice(0, rest.length - 4 - Number(sizeCol));
    const abs = path.join(extractDir, p);
    const st = lstatSync(abs, { bigint: false });
    const node: Node = { path: p, kind, mode: parsePerms(perms!), uid: Number(uid), gid: Number(gid), mtime: Math.floor(st.mtimeMs / 1000) };
    if (kind !== 'symlink' && (st.mode & 0o7777) !== node.mode) throw new Error(`${p}: -lln says ${perms}, extracted mode is ${(st.mode & 0o7777).toString(8)}`);
    if (st.uid !== node.uid || st.gid !== node.gid) throw new Error(`${p}: -lln owner ${uid}/${gid}, extracted ${st.uid}/${st.gid}`);
    if (Math.floor(node.mtime / 60) * 60 !== Date.parse(`${date!.replace(' ', 'T')}:00Z`) / 1000) throw new Error(`${p}: -lln time ${date} disagrees with extracted mtime ${node.mtime}`);
    if (kind === 'file') {
      node.size = Number(sizeCol);
      const bytes = readFileSync(abs);
      if (bytes.length !== node.size) throw new Error(`${p}: extracted ${bytes.length} bytes, -lln says ${node.size}`);
      node.sha256 = createHash('sha256').update(bytes).digest('hex');
    }
    if (kind === 'symlink') node.linkname = readlinkSync(abs);
    // -lln of unsquashfs 4.5 prints minors above 255 wrongly; the extracted node's rdev is exact.
    if (kind === 'char' || kind === 'block') node.dev = `${linuxMajor(st.rdev)},${linuxMinor(st.rdev)}`;
    if (kind !== 'dir' && st.nlink > 1) byIno.set(st.ino, [...(byIno.get(st.ino) ?? []), p]);
    nodes.push(node);
  }
  const links = [...byIno.values()].filter((g) => g.length > 1).map((g) => g.sort()).sort();
  return { nodes, links };
}
