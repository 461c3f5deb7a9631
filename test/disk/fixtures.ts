import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { sharedMirror } from '../helpers/env.js';

/** A 6.x x86_64 recipe on the shared mirror (folder), with a serial console so tests can read the boot. */
export function writeRecipe(dir: string, name: string, extra: string): string {
  const file = path.join(dir, `${name}.yaml`);
  writeFileSync(file, [
    `name: ${name}`,
    'release: "6.4.1"',
    'arch: x86_64',
    `mirror: ${sharedMirror()}`,
    'base: rootfs64.gz',
    'kernel: vmlinuz64',
    'bootcodes: [console=ttyS0, noswap, nozswap, nodhcp]',
    extra,
    '',
  ].join('\n'));
  return file;
}
