import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createHash } from 'node:crypto';
import { copyFileSync, readFileSync, mkdirSync, openSync, readSync, closeSync, writeFileSync, chmodSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { buildDisk } from '../../src/outputs/disk/index.js';
import { prepare } from '../../src/pipeline/prepare.js';
import { parseMbr } from '../../src/formats/disk/mbr.js';
import { PART_OFFSET } from '../../src/outputs/disk/assemble.js';
import { kvmWorks } from '../../src/outputs/disk/qemu.js';
import { normalizeExtPartition } from '../../src/outputs/disk/ext-normalize.js';
import { requireTool, sharedMirror, tempDir } from '../helpers/env.js';
import { bootUntil } from './qemu-watch.js';

/**
 * One disk from the real TC 6.4.1 rootfs64.gz + vmlinuz64, booted by the BIOS through dbco's MBR and
 * GRUB (no -kernel). The recipe's bootlocal prints markers and the recipe's file to the serial console;
 * on the first boot it saves a persist-listed file with filetool.sh -b and powers off, and the second
 * boot finds it restored from /tce/mydata.tgz. A fixture extension's tce.installed script must run at
 * boot, as root, as TC runs setup scripts (tce-setup, from /tmp/setup.lst).
 */
// After the backup, the tce dir gets what tce-setup gives it at every boot (tc:staff, g+w), so the
// second boot has nothing to change and must leave the disk byte-identical.
const BOOTLOCAL = [
  'echo "DBCO-BOOT-MARKER $(cat /etc/dbco/hello.txt)" > /dev/console',
  'ls -l /etc/dbco/hello.txt > /dev/console',
  'if [ -f /etc/dbco/persisted.txt ]; then echo "PERSIST-FOUND $(cat /etc/dbco/persisted.txt)" > /dev/console; poweroff; else echo "saved-at-first-boot" > /etc/dbco/persisted.txt; filetool.sh -b > /dev/console 2>&1; chown -R tc:staff /mnt/sda1/tce; chmod -R g+w /mnt/sda1/tce; ls -l /mnt/sda1/tce/ > /dev/console; echo BACKUP-DONE > /dev/console; poweroff; fi',
];

describe('disk boots with GRUB from the MBR', () => {
  const tmp = tempDir('dbco-disk-boot-');
  let disk = '';
  let kvm = false;
  let mirror = '';
  const cache = path.join(tmp.dir, 'cache');

  /** A temp mirror: the real 6.x release files plus a fixture tcz whose setup script leaves a marker. */
  function fixtureMirror(): string {
    const mirror = path.join(tmp.dir, 'mirror');
    const df = path.join(mirror, '6.x/x86_64/release/distribution_files');
    mkdirSync(df, { recursive: true });
    for (const f of ['rootfs64.gz', 'rootfs64.gz.md5.txt', 'vmlinuz64', 'vmlinuz64.md5.txt']) {
      copyFileSync(path.join(sharedMirror(), '6.x/x86_64/release/distribution_files', f), path.join(df, f));
    }
    const root = path.join(tmp.dir, 'tcz-root');
    mkdirSync(path.join(root, 'usr/local/tce.installed'), { recursive: true });
    const script = path.join(root, 'usr/local/tce.installed/dbcotest');
    writeFileSync(script, '#!/bin/sh\necho "DBCO-SETUP-RAN uid=$(id -u)" > /dev/console\n');
    chmodSync(script, 0o755);
    const tczDir = path.join(mirror, '6.x/x86_64/tcz');
    mkdirSync(tczDir, { recursive: true });
    const tcz = path.join(tczDir, 'dbcotest.tcz');
    execFileSync('mksquashfs', [root, tcz, '-noappend', '-all-root', '-quiet']);
    writeFileSync(`${tcz}.md5.txt`, `${createHash('md5').update(readFileSync(tcz)).digest('hex')}  dbcotest.tcz\n`);
    return mirror;
  }

  async function build(out: string): Promise<void> {
    const recipe = path.join(tmp.dir, 'boot-test.yaml');
    writeFileSync(recipe, [
      'name: boot-test', 'release: "6.4.1"', 'arch: x86_64', `mirror: ${mirror}`, 'base: rootfs64.gz', 'kernel: vmlinuz64',
      'bootcodes: [console=ttyS0, noswap, nozswap, nodhcp]',
      'extensions: [dbcotest]',
      'files:',
      '  - dest: /etc/dbco/hello.txt',
      '    content: "hello from the recipe"',
      '    mode: "0640"',
      'persist: [etc/dbco/persisted.txt]',
      'bootlocal:',
      ...BOOTLOCAL.map((l) => `  - ${JSON.stringify(l)}`),
      '',
    ].join('\n'));
    const inputs = await prepare(recipe, { cache });
    const work = path.join(tmp.dir, `work-${path.basename(out)}`);
    mkdirSync(work, { recursive: true });
    await buildDisk(inputs, { cacheRoot: cache, out, work, epoch: 0 });
  }

  beforeAll(async () => {
    requireTool('mke2fs');
    requireTool('grub-mkimage');
    requireTool('mksquashfs');
    mirror = fixtureMirror();
    disk = path.join(tmp.dir, 'a.raw');
    await build(disk);
    kvm = await kvmWorks(disk, 'x86_64');
  });
  afterAll(() => tmp.cleanup());

  test('MBR: one bootable Linux partition from sector 2048, GRUB boot code, fsck clean', () => {
    const fd = openSync(disk, 'r');
    const mbr = Buffer.alloc(512);
    readSync(fd, mbr, 0, 512, 0);
    closeSync(fd);
    const { partitions } = parseMbr(mbr);
    expect(partitions).toEqual([{ bootable: true, type: 0x83, start: 2048, sectors: 64 * 2048 - 2048 }]);
    expect(mbr.subarray(0, 0x1b8).includes(Buffer.from('GRUB'))).toBe(true);
    const part = path.join(tmp.dir, 'part.ext2');
    execFileSync('dd', [`if=${disk}`, `of=${part}`, 'bs=1M', `skip=${PART_OFFSET / 2 ** 20}`, 'status=none']);
    const fsck = execFileSync('e2fsck', ['-fn', part]).toString();
    expect(fsck).toMatch(/clean|files/);
    const ls = execFileSync('debugfs', ['-R', 'ls -p /boot', part], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
    expect(ls).toContain('vmlinuz64');
    expect(ls).toContain('dbco.gz');
    const tce = execFileSync('debugfs', ['-R', 'ls -p /tce', part], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
    expect(tce).toMatch(/onboot\.lst/);
    expect(tce).toMatch(/optional/);
  });

  test('two builds are byte-identical', async () => {
    const second = path.join(tmp.dir, 'b.raw');
    await build(second);
    const sha = (f: string): string => createHash('sha256').update(readFileSync(f)).digest('hex');
    expect(sha(second)).toBe(sha(disk));
  });

  test('boots to the TC userland: setup script, bootlocal marker and recipe file on the serial console; persist survives a reboot; a read-only boot leaves ext2 byte-identical', async () => {
    const copy = path.join(tmp.dir, 'boot.raw');
    copyFileSync(disk, copy);
    const first = await bootUntil(copy, { arch: 'x86_64', kvm, until: [/DBCO-BOOT-MARKER hello from the recipe/, /BACKUP-DONE/], waitExit: true, timeoutMs: 110_000 });
    expect(first).toMatch(/-rw-r-----\s+1 root\s+root\s+21 .*\/etc\/dbco\/hello\.txt/);
    expect(first).toMatch(/mydata\.tgz/);
    expect(first).toContain('DBCO-SETUP-RAN uid=0');
    const sha = (f: string): string => createHash('sha256').update(readFileSync(f)).digest('hex');
    await normalizeExtPartition(copy, PART_OFFSET, 0);
    const afterFirst = sha(copy);
    const second = await bootUntil(copy, { arch: 'x86_64', kvm, until: [/PERSIST-FOUND saved-at-first-boot/], waitExit: true, timeoutMs: 110_000 });
    expect(second).toContain('DBCO-BOOT-MARKER');
    // The second boot only read (restore, mounts, tce-setup's chown/touch): normalized, ext2 is byte-identical.
    await normalizeExtPartition(copy, PART_OFFSET, 0);
    expect(sha(copy)).toBe(afterFirst);
  }, 240_000);
});
