import { execSync } from 'node:child_process';
import { chmodSync, chownSync, linkSync, mkdirSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** A tree with every kind newc can hold, built with real syscalls (root needed for mknod/chown). */
export function buildTree(root: string): void {
  const f = (p: string, data: string | Buffer, mode = 0o644) => {
    writeFileSync(path.join(root, p), data);
    chmodSync(path.join(root, p), mode);
  };
  mkdirSync(path.join(root, 'd/sub/deeper'), { recursive: true });
  f('d/plain.txt', 'hello\n');
  f('empty', '');
  f('big.bin', Buffer.from(Array.from({ length: 1_300_000 }, (_, i) => (i * 7 + (i >> 9)) & 0xff)));
  f('setuid', '#!/bin/sh\n', 0o4755);
  f('setgid', 'x', 0o2711);
  mkdirSync(path.join(root, 'sticky'));
  chmodSync(path.join(root, 'sticky'), 0o1777);
  f('d/sub/linked', 'shared content\n');
  linkSync(path.join(root, 'd/sub/linked'), path.join(root, 'hl-a'));
  linkSync(path.join(root, 'd/sub/linked'), path.join(root, 'd/hl-b'));
  f('empty-linked', '');
  linkSync(path.join(root, 'empty-linked'), path.join(root, 'empty-linked2'));
  symlinkSync('/etc/passwd', path.join(root, 'abs-link'));
  symlinkSync('/very/' + 't'.repeat(290), path.join(root, 'long-target'));
  symlinkSync('../plain.txt', path.join(root, 'd/sub/rel-link'));
  const longDir = 'L'.repeat(120) + '/' + 'M'.repeat(150);
  mkdirSync(path.join(root, longDir), { recursive: true });
  f(`${longDir}/${'n'.repeat(200)}`, 'deep\n');
  execSync(`mkfifo ${root}/fifo && mknod ${root}/d/null c 1 3 && mknod ${root}/d/sda1 b 8 1 && mknod ${root}/bigdev c 300 70000`);
  chownSync(path.join(root, 'd/plain.txt'), 1001, 50);
  chownSync(path.join(root, 'setgid'), 2_100_000, 3_000_000);
  chmodSync(path.join(root, 'setgid'), 0o2711); // chown cleared it
  // Whole seconds: archive formats here hold no sub-second times, and tar --compare checks them.
  execSync(`find ${root} -mindepth 1 -depth -exec touch -h -d @1600000000 {} +`);
  utimesSync(path.join(root, 'd/plain.txt'), 1_000_000_000, 1_234_567_890);
}

