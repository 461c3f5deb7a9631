import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { requireTool, sharedMirror } from '../helpers/env.js';

/** A tiny base initramfs (gzip'd cpio newc, one file): 17.x has no x86 core.gz in ../shared/tc-mirror. */
export function writeCore(dir: string): string {
  requireTool('cpio');
  const tree = path.join(dir, 'core-tree');
  mkdirSync(path.join(tree, 'etc'), { recursive: true });
  writeFileSync(path.join(tree, 'etc/motd'), 'dbco sbom test\n');
  const out = path.join(dir, 'core.gz');
  execFileSync('sh', ['-c', `cd '${tree}' && find . | sort | cpio -o -H newc --quiet | gzip -9n > '${out}'`]);
  return out;
}

/** A recipe over the real mirror folder with the base above; `extra` lines appended. */
export function sbomRecipe(dir: string, name: string, release: string, extensions: string[], tag: string, extra: string[] = []): string {
  mkdirSync(dir, { recursive: true });
  if (!existsSync(path.join(dir, 'core.gz'))) writeCore(dir);
  const file = path.join(dir, `${name}.yaml`);
  writeFileSync(file, [
    `name: ${name}`, `release: "${release}"`, 'arch: x86', `mirror: ${sharedMirror()}`, 'base: { file: core.gz }',
    `extensions: [${extensions.join(', ')}]`, `image: { setup: none, tag: "${tag}" }`, ...extra, '',
  ].join('\n'));
  return file;
}

/** The tcz closure the .dep files name, read here without dbco: name -> its .dep list (only names the mirror has). */
export function depTree(tczDir: string, roots: string[]): Map<string, string[]> {
  const tree = new Map<string, string[]>();
  const todo = roots.map((r) => `${r}.tcz`);
  while (todo.length) {
    const n = todo.shift()!;
    if (tree.has(n)) continue;
    const depFile = path.join(tczDir, `${n}.dep`);
    const deps = existsSync(depFile) ? readFileSync(depFile, 'utf8').split('\n').map((l) => l.replace(/\s+/g, '')).filter(Boolean) : [];
    tree.set(n, deps);
    todo.push(...deps);
  }
  return tree;
}

export const sha256File = (p: string): string => createHash('sha256').update(readFileSync(p)).digest('hex');
export const md5File = (p: string): string => createHash('md5').update(readFileSync(p)).digest('hex');

/** `Field:` of a .tcz.info, read here with a plain regex. */
export function infoField(file: string, field: string): string | undefined {
  const m = new RegExp(`^${field}:\\s*(.*)$`, 'm').exec(readFileSync(file, 'utf8'));
  return m ? m[1]!.trim() : undefined;
}

export interface CdxComponent {
  type: string; name: string; version?: string; purl?: string; 'bom-ref': string;
  hashes?: { alg: string; content: string }[];
  licenses?: { license: { id?: string; name?: string } }[];
}
export interface CdxBom {
  specVersion: string; serialNumber: string;
  metadata: { timestamp: string; tools: { components: CdxComponent[] }; component: CdxComponent };
  components: CdxComponent[];
  dependencies: { ref: string; dependsOn?: string[] }[];
}

export const hashOf = (c: CdxComponent, alg: string): string | undefined => c.hashes?.find((h) => h.alg === alg)?.content;
