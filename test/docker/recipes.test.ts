import { afterAll, describe, expect, test } from 'vitest';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT, requireTool, runDbco, sharedMirror, tempDir } from '../helpers/env.js';
import { loadRecipe } from '../../src/recipe/load.js';
import { docker, removeImages } from './helpers/docker-util.js';

const M = sharedMirror();
const RECIPES = readdirSync(path.join(REPO_ROOT, 'recipes')).filter((f) => f.endsWith('.yaml')).sort();

/** Every extension of the official 17.x x86 repository (x86_64 uses the same names for these). */
function reference17(): Set<string> {
  const text = readFileSync(path.join(M, 'reference/17.x-x86-tcz.sha256-size.txt'), 'utf8');
  return new Set(text.split('\n').map((l) => l.trim().split(/\s+/)[2]).filter((n): n is string => Boolean(n)));
}

describe('shipped recipes', () => {
  test('every extension a recipe names exists: in the official 17.x list, or in the mirror folder it builds from', async () => {
    const ref = reference17();
    expect(ref.size).toBeGreaterThan(2000);
    expect(RECIPES).toEqual(expect.arrayContaining(['dbcolinux.yaml', 'microcore.yaml', 'offline.yaml']));
    for (const file of RECIPES) {
      const { recipe } = await loadRecipe(path.join(REPO_ROOT, 'recipes', file));
      const major = recipe.release.split('.')[0];
      for (const ext of recipe.extensions ?? []) {
        const known = major === '17' ? ref.has(ext) : existsSync(path.join(M, `${major}.x`, recipe.arch, 'tcz', ext));
        expect(known, `${file}: ${ext}`).toBe(true);
      }
    }
  });

  test('recipes/microcore.yaml: TC 17.0 x86_64 core, serial console for the disk', async () => {
    const { recipe } = await loadRecipe(path.join(REPO_ROOT, 'recipes/microcore.yaml'));
    expect(recipe).toMatchObject({ name: 'microcore', release: '17.0', arch: 'x86_64', base: 'corepure64.gz', kernel: 'vmlinuz64', mirror: 'http://tinycorelinux.net' });
    expect(recipe.extensions ?? []).toEqual([]);
    expect(recipe.bootcodes).toContain('console=ttyS0');
  });

  test('recipes/dbcolinux.yaml: openssh, gdisk, grub2-multi, sshd at boot, first password, keys and passwords persisted', async () => {
    const { recipe } = await loadRecipe(path.join(REPO_ROOT, 'recipes/dbcolinux.yaml'));
    expect(recipe).toMatchObject({ name: 'dbcolinux', release: '17.0', arch: 'x86_64', base: 'corepure64.gz' });
    expect((recipe.extensions ?? []).map((e) => e.replace(/\.tcz$/, ''))).toEqual(['openssh', 'gdisk', 'grub2-multi']);
    expect(recipe.bootlocal?.join('\n')).toMatch(/openssh start/);
    expect(recipe.bootlocal?.join('\n')).toMatch(/echo 'tc:[^']+' \| chpasswd/m);
    expect(recipe.bootcodes).toContain('console=ttyS0');
    expect(recipe.persist).toEqual(expect.arrayContaining(['usr/local/etc/ssh', 'home/tc/.ssh', 'etc/passwd', 'etc/shadow']));
  });

  describe('recipes/offline.yaml builds against ../shared/tc-mirror with no network', () => {
    const t = tempDir();
    const tag = `dbco-newcomer-offline-${process.pid}:1`;
    afterAll(() => { removeImages(tag); t.cleanup(); });

    test('dbco image --docker, then the image runs TC 6.4.1 with the recipe\'s motd', async () => {
      requireTool('docker');
      const r = await runDbco(['image', 'recipes/offline.yaml', '--docker', '--tag', tag, '--mirror', M, '--cache', path.join(t.dir, 'cache')]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.trim().split('\n')[1]).toBe(tag);
      expect(docker(['run', '--rm', tag, 'cat', '/usr/share/doc/tc/release.txt']).trim()).toBe('6.4.1');
      expect(docker(['run', '--rm', tag, 'cat', '/etc/motd'])).toMatch(/built by dbco from a local mirror folder/);
    }, 300_000);
  });
});
