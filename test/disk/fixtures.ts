import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
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

/** scripts/install-deps.sh puts busybox-static:i386 here (the host cannot run i386 binaries itself). */
export const I386_BUSYBOX = process.env.DBCO_I386_BUSYBOX ?? '/var/cache/dbco-test/busybox-i386/bin/busybox';
export const I386_DISTRIBUTION = '7.x/x86/release/distribution_files';

const md5 = (f: string): string => createHash('md5').update(readFileSync(f)).digest('hex');

/** A base initramfs of an i386 busybox whose /init prints a marker and the recipe's file, then powers off. */
function fixtureBase(root: string, out: string): void {
  for (const d of ['bin', 'dev', 'proc', 'etc', 'opt']) mkdirSync(path.join(root, d), { recursive: true });
  copyFileSync(I386_BUSYBOX, path.join(root, 'bin/busybox'));
  chmodSync(path.join(root, 'bin/busybox'), 0o755);
  execFileSync('mknod', ['-m', '600', path.join(root, 'dev/console'), 'c', '5', '1']);
  writeFileSync(path.join(root, 'init'), [
    '#!/bin/busybox sh',
    '/bin/busybox mount -t proc proc /proc',
    'echo "I386-MARKER $(/bin/busybox uname -m) $(/bin/busybox cat /etc/dbco/x86.txt)"',
    '/bin/busybox poweroff -f',
    '',
  ].join('\n'));
  chmodSync(path.join(root, 'init'), 0o755);
  execFileSync('sh', ['-c', `cd '${root}' && find . | sort | cpio -o -H newc --quiet | gzip -9n > '${out}'`]);
}

/**
 * A 7.x x86 mirror folder: the shared 32-bit kernel, fixture.gz (the busybox base above) and two small
 * tczs. Recipes over it: release "7.2", arch x86, base fixture.gz, kernel vmlinuz, image.setup none,
 * a file /etc/dbco/x86.txt whose content the marker line prints.
 */
export function i386FixtureMirror(mirror: string): void {
  if (!existsSync(I386_BUSYBOX)) throw new Error(`${I386_BUSYBOX} missing: run scripts/install-deps.sh`);
  const df = path.join(mirror, I386_DISTRIBUTION);
  mkdirSync(df, { recursive: true });
  for (const f of ['vmlinuz', 'vmlinuz.md5.txt']) copyFileSync(path.join(sharedMirror(), I386_DISTRIBUTION, f), path.join(df, f));
  fixtureBase(`${mirror}.base-root`, path.join(df, 'fixture.gz'));
  writeFileSync(path.join(df, 'fixture.gz.md5.txt'), `${md5(path.join(df, 'fixture.gz'))}  fixture.gz\n`);
  const tcz = path.join(mirror, '7.x/x86/tcz');
  mkdirSync(tcz, { recursive: true });
  for (const n of ['mirrors.tcz', 'libattr.tcz']) {
    for (const suffix of ['', '.md5.txt', '.dep']) {
      const src = path.join(sharedMirror(), '7.x/x86/tcz', n + suffix);
      if (existsSync(src)) copyFileSync(src, path.join(tcz, n + suffix));
    }
  }
}
