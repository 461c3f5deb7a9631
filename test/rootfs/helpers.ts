import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { createReadStream, lstatSync, readdirSync, readlinkSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Entry } from '../../src/formats/entry.js';
import type { CachedFile, PreparedExtension, PreparedInputs } from '../../src/pipeline/prepare.js';
import type { Recipe } from '../../src/recipe/schema.js';
import { requireTool, sharedMirror } from '../helpers/env.js';

export const BASE64 = (): string => path.join(sharedMirror(), '6.x/x86_64/release/distribution_files/rootfs64.gz');
export const TCZ14 = (name: string): string => path.join(sharedMirror(), '14.x/x86_64/tcz', name);

export function cachedFile(file: string): CachedFile {
  return { path: file, sha256: createHash('sha256').update(readFileSync(file)).digest('hex'), size: statSync(file).size, origin: file };
}

export function extension(file: string, name = path.basename(file)): PreparedExtension {
  return { name, file: cachedFile(file), deps: [] };
}

export function inputs(opts: { base?: string; extensions?: PreparedExtension[]; recipe?: Partial<Recipe>; recipeDir?: string }): PreparedInputs {
  const recipe: Recipe = { name: 'test', release: '6.4.1', arch: 'x86_64', base: 'rootfs64.gz', ...opts.recipe };
  const recipeDir = opts.recipeDir ?? '/nonexistent-recipe-dir';
  return {
    recipe,
    recipePath: path.join(recipeDir, 'recipe.yaml'),
    recipeDir,
    recipeDigest: '0'.repeat(64),
    lockDigest: '0'.repeat(64),
    base: cachedFile(opts.base ?? BASE64()),
    extensions: opts.extensions ?? [],
  };
}

/** What a test compares: kind, permission bits, owner, size, link target, content digest. */
export interface Node {
  kind: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  link?: string;
  sha256?: string;
  dev?: string;
}

/** A real extracted folder as Nodes (hard links show up as plain files with the same content). */
export function treeOfDir(root: string): Map<string, Node> {
  const out = new Map<string, Node>();
  const walk = (rel: string): void => {
    for (const name of readdirSync(path.join(root, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const abs = path.join(root, r);
      const st = lstatSync(abs);
      const base = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
      if (st.isDirectory()) {
        out.set(r, { kind: 'dir', ...base, size: 0 });
        walk(r);
      } else if (st.isSymbolicLink()) out.set(r, { kind: 'symlink', ...base, size: 0, link: readlinkSync(abs) });
      else if (st.isFile()) out.set(r, { kind: 'file', ...base, size: st.size, sha256: createHash('sha256').update(readFileSync(abs)).digest('hex') });
      else if (st.isCharacterDevice() || st.isBlockDevice()) {
        out.set(r, { kind: st.isCharacterDevice() ? 'char' : 'block', ...base, size: 0, dev: `${Math.floor(st.rdev / 256)}:${st.rdev % 256}` });
      } else if (st.isFIFO()) out.set(r, { kind: 'fifo', ...base, size: 0 });
      else out.set(r, { kind: 'socket', ...base, size: 0 });
    }
  };
  walk('');
  return out;
}

/** Entries as Nodes, reading every file's bytes through open() and following hard links to their data. */
export async function treeOfEntries(entries: readonly Entry[]): Promise<Map<string, Node>> {
  const byPath = new Map(entries.map((e) => [e.path, e]));
  const out = new Map<string, Node>();
  for (const e of entries) {
    let d = e;
    for (let i = 0; d.kind === 'hardlink' && i < 10; i++) d = byPath.get(d.linkname!)!;
    const base = { mode: d.mode, uid: d.uid, gid: d.gid };
    if (d.kind === 'file') out.set(e.path, { kind: 'file', ...base, size: d.size, sha256: await sha256Of(d) });
    else if (d.kind === 'symlink') out.set(e.path, { kind: 'symlink', ...base, size: 0, link: d.linkname! });
    else if (d.kind === 'char' || d.kind === 'block') out.set(e.path, { kind: d.kind, ...base, size: 0, dev: `${d.devmajor}:${d.devminor}` });
    else out.set(e.path, { kind: d.kind, ...base, size: 0 });
  }
  return out;
}

export async function sha256Of(e: Entry): Promise<string> {
  const h = createHash('sha256');
  if (e.open) for await (const c of e.open()) h.update(c);
  return h.digest('hex');
}

export async function textOf(e: Entry | undefined): Promise<string> {
  if (!e?.open) throw new Error(`no file ${e?.path}`);
  const parts: Buffer[] = [];
  for await (const c of e.open()) parts.push(Buffer.from(c));
  return Buffer.concat(parts).toString('utf8');
}

export async function fileSha256(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(file)) h.update(c as Buffer);
  return h.digest('hex');
}

/** Symlinks on Linux always read back 0777; compare the rest exactly. */
export function comparable(tree: Map<string, Node>): Record<string, Node> {
  const out: Record<string, Node> = {};
  for (const [p, n] of [...tree].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) out[p] = n.kind === 'symlink' ? { ...n, mode: 0o777 } : n;
  return out;
}

/** Builds a tcz from a staged folder with the real mksquashfs (gzip, 4 KiB blocks as TC does). */
export function mksquashfs(stage: string, out: string, extra: string[] = []): string {
  requireTool('mksquashfs');
  execFileSync('mksquashfs', [stage, out, '-noappend', '-no-progress', '-b', '4096', ...extra], { stdio: 'pipe' });
  return out;
}

export function gunzipCpioInto(gz: string, dir: string): void {
  requireTool('cpio');
  execFileSync('sh', ['-c', 'gzip -dc "$1" | cpio -idm --quiet --no-absolute-filenames', 'sh', gz], { cwd: dir, stdio: 'pipe' });
}
