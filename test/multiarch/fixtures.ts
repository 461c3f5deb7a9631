import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { sharedMirror } from '../helpers/env.js';

/** scripts/install-deps.sh puts busybox-static:i386 here (as the x86 disk test uses it). */
export const I386_BUSYBOX = process.env.DBCO_I386_BUSYBOX ?? '/var/cache/dbco-test/busybox-i386/bin/busybox';

function copy(from: string, to: string): void {
  mkdirSync(path.dirname(to), { recursive: true });
  copyFileSync(from, to);
}

/**
 * A 6.x mirror folder with both arches, from real TC files: x86_64 is the real 6.4.1 rootfs64.gz and
 * vmlinuz64 with 14.x's libzstd.tcz; x86 is a core.gz of i386 busybox (TC has no small x86 core that
 * could be kept here), 7.x's vmlinuz and 16.x's libzstd.tcz with its .info.
 */
export function multiArchMirror(root: string): string {
  if (!existsSync(I386_BUSYBOX)) throw new Error(`${I386_BUSYBOX} missing: run scripts/install-deps.sh`);
  const shared = sharedMirror();
  const dist64 = path.join(root, '6.x/x86_64/release/distribution_files');
  for (const f of ['rootfs64.gz', 'rootfs64.gz.md5.txt', 'vmlinuz64', 'vmlinuz64.md5.txt']) {
    copy(path.join(shared, '6.x/x86_64/release/distribution_files', f), path.join(dist64, f));
  }
  const dist32 = path.join(root, '6.x/x86/release/distribution_files');
  for (const f of ['vmlinuz', 'vmlinuz.md5.txt']) copy(path.join(shared, '7.x/x86/release/distribution_files', f), path.join(dist32, f));
  const tree = path.join(root, '.core-tree');
  mkdirSync(path.join(tree, 'bin'), { recursive: true });
  copyFileSync(I386_BUSYBOX, path.join(tree, 'bin/busybox'));
  chmodSync(path.join(tree, 'bin/busybox'), 0o755);
  execFileSync('sh', ['-c', `cd '${tree}' && find . | sort | cpio -o -H newc --quiet | gzip -9n > '${dist32}/core.gz'`]);
  for (const suffix of ['', '.md5.txt', '.info', '.dep']) {
    const x86 = path.join(shared, '16.x/x86/tcz', `libzstd.tcz${suffix}`);
    if (existsSync(x86)) copy(x86, path.join(root, '6.x/x86/tcz', `libzstd.tcz${suffix}`));
    const x64 = path.join(shared, '14.x/x86_64/tcz', `libzstd.tcz${suffix}`);
    if (existsSync(x64)) copy(x64, path.join(root, '6.x/x86_64/tcz', `libzstd.tcz${suffix}`));
  }
  return root;
}

/** The multi-arch recipe: x86's base and both kernels left to TC's default names. */
export function writeMultiRecipe(dir: string, name: string, mirror: string, tag: string, extra = ''): string {
  const file = path.join(dir, `${name}.yaml`);
  writeFileSync(file, [
    `name: ${name}`,
    'release: "6.4.1"',
    'arch: [x86, x86_64]',
    `mirror: ${mirror}`,
    'base: { x86_64: rootfs64.gz }',
    'extensions: [libzstd]',
    'files: [{ dest: /etc/motd, content: "two arches" }]',
    `image: { setup: none, tag: "${tag}" }`,
    extra,
    '',
  ].join('\n'));
  return file;
}
