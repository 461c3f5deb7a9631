import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';

export interface TreeNode {
  kind: string;
  mode: number;
  uid: number;
  gid: number;
  sha256?: string;
  link?: string;
  rdev?: number;
}

/** Every path under `root` with what must match between two builds of the same tree. */
export function walkTree(root: string): Map<string, TreeNode> {
  const out = new Map<string, TreeNode>();
  const visit = (rel: string): void => {
    for (const name of readdirSync(path.join(root, rel))) {
      const p = rel ? `${rel}/${name}` : name;
      const full = path.join(root, p);
      const st = lstatSync(full);
      const node: TreeNode = { kind: '', mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
      if (st.isFile()) { node.kind = 'file'; node.sha256 = createHash('sha256').update(readFileSync(full)).digest('hex'); }
      else if (st.isDirectory()) node.kind = 'dir';
      else if (st.isSymbolicLink()) { node.kind = 'symlink'; node.link = readlinkSync(full); node.mode = 0; }
      else if (st.isCharacterDevice()) { node.kind = 'char'; node.rdev = st.rdev; }
      else if (st.isBlockDevice()) { node.kind = 'block'; node.rdev = st.rdev; }
      else if (st.isFIFO()) node.kind = 'fifo';
      else node.kind = 'socket';
      out.set(p, node);
      if (node.kind === 'dir') visit(p);
    }
  };
  visit('');
  return out;
}

/** Human-readable differences (first `limit`), empty when the trees match. */
export function diffTrees(expected: Map<string, TreeNode>, actual: Map<string, TreeNode>, ignore: (p: string) => boolean = () => false, limit = 20): string[] {
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

/** What Docker adds to every container's exported tree. */
export function dockerManaged(p: string): boolean {
  return ['etc/hosts', 'etc/hostname', 'etc/resolv.conf', 'etc/mtab', '.dockerenv'].includes(p) || /^(dev|proc|sys)(\/|$)/.test(p);
}
