import { execFileSync } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DepSource } from '../../src/resolve/resolver.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));

/** The POSIX-shell reference walk (tce-walk.sh) over a folder of tczs: install order and holes. */
export function shellWalk(dir: string, exts: string[], kernelVersion = 'none'): { order: string[]; missing: string[]; cycles: string[] } {
  const out = execFileSync('sh', [path.join(HERE, 'tce-walk.sh'), dir, kernelVersion, ...exts], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = out.toString().split('\n').filter(Boolean);
  return {
    order: lines.filter((l) => !l.startsWith('MISSING ')),
    missing: lines.filter((l) => l.startsWith('MISSING ')).map((l) => l.slice(8)),
    cycles: [],
  };
}

/** A DepSource straight over a folder (no cache): exercises the walk alone. */
export function folderDeps(dir: string): DepSource & { calls: string[] } {
  const calls: string[] = [];
  return {
    where: dir,
    calls,
    async depText(name) {
      calls.push(`${name}.dep`);
      try { return await readFile(path.join(dir, `${name}.dep`), 'utf8'); } catch { return null; }
    },
    async exists(name) {
      try { return (await stat(path.join(dir, name))).isFile(); } catch { return false; }
    },
  };
}

