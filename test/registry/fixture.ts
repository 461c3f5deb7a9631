import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { makeTcz, mirrorWith6x, TC6 } from '../docker/helpers/fixtures.js';

/**
 * A small real image to push: TC 6.x's rootfs64.gz (real) plus one tcz made here, setup 'none' so
 * no engine is needed to build it. Returns the recipe path.
 */
export function pushRecipe(dir: string, name = 'pushdemo', message = 'hello from dbco push'): string {
  const mirror = mirrorWith6x(path.join(dir, 'mirror'));
  makeTcz(path.join(mirror, TC6, 'tcz'), 'dbcohello', { 'usr/local/share/dbco/hello.txt': `${message}\n` });
  mkdirSync(dir, { recursive: true });
  const recipe = path.join(dir, `${name}.yaml`);
  writeFileSync(recipe, [
    `name: ${name}`, 'release: "6.4.1"', 'arch: x86_64', `mirror: ${mirror}`, 'base: rootfs64.gz',
    'extensions: [dbcohello]', 'image: { setup: none, cmd: ["/bin/cat", "/usr/local/share/dbco/hello.txt"] }', '',
  ].join('\n'));
  return recipe;
}
