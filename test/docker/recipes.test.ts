import { describe, expect, test } from 'vitest';
import path from 'node:path';
import { REPO_ROOT } from '../helpers/env.js';
import { loadRecipe } from '../../src/recipe/load.js';

// These recipes need the internet (tinycorelinux.net) to build; here they are validated only.
describe('shipped recipes', () => {
  test('recipes/microcore.yaml: TC 15.0 x86_64 core', async () => {
    const { recipe } = await loadRecipe(path.join(REPO_ROOT, 'recipes/microcore.yaml'));
    expect(recipe).toMatchObject({ name: 'microcore', release: '15.0', arch: 'x86_64', base: 'corepure64.gz', kernel: 'vmlinuz64', mirror: 'http://tinycorelinux.net' });
    expect(recipe.extensions ?? []).toEqual([]);
  });

  test('recipes/dbcolinux.yaml: openssh, parted, grub2-multi, sshd at boot, password, persistence', async () => {
    const { recipe } = await loadRecipe(path.join(REPO_ROOT, 'recipes/dbcolinux.yaml'));
    expect(recipe).toMatchObject({ name: 'dbcolinux', release: '15.0', arch: 'x86_64', base: 'corepure64.gz' });
    expect((recipe.extensions ?? []).map((e) => e.replace(/\.tcz$/, ''))).toEqual(['openssh', 'parted', 'grub2-multi']);
    expect(recipe.bootlocal?.join('\n')).toMatch(/openssh start/);
    expect(recipe.bootlocal?.join('\n')).toMatch(/^echo 'tc:[^']+' \| chpasswd$/m);
    expect(recipe.persist).toEqual(expect.arrayContaining(['usr/local/etc/ssh', 'etc/passwd', 'etc/shadow']));
  });
});
