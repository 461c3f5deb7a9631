import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { buildDisk } from '../../src/outputs/disk/index.js';
import { PART_OFFSET } from '../../src/outputs/disk/assemble.js';
import { kvmWorks } from '../../src/outputs/disk/qemu.js';
import { prepare } from '../../src/pipeline/prepare.js';
import { requireTool, runDbco, sharedMirror, tempDir } from '../helpers/env.js';
import { bootUntil } from './qemu-watch.js';
import { I386_DISTRIBUTION, i386FixtureMirror } from './fixtures.js';

const sha = (f: string): string => createHash('sha256').update(readFileSync(f)).digest('hex');

describe('32-bit x86 disk (7.x vmlinuz, i386 busybox base)', () => {
  const tmp = tempDir('dbco-disk-x86-');
  const cache = path.join(tmp.dir, 'cache');
  const mirror = path.join(tmp.dir, 'mirror');
  const df = path.join(mirror, I386_DISTRIBUTION);

  beforeAll(() => i386FixtureMirror(mirror));
  afterAll(() => tmp.cleanup());

  function recipe(name: string, extra: string[]): string {
    const file = path.join(tmp.dir, `${name}.yaml`);
    writeFileSync(file, [
      `name: ${name}`, 'release: "7.2"', 'arch: x86', `mirror: ${mirror}`, 'base: fixture.gz', 'kernel: vmlinuz',
      'bootcodes: [console=ttyS0]', 'image: { setup: none }',
      'files:', '  - dest: /etc/dbco/x86.txt', '    content: "thirty-two bits"', ...extra, '',
    ].join('\n'));
    return file;
  }

  test('boots under qemu-system-i386 through GRUB and prints the marker', async () => {
    requireTool('qemu-system-i386');
    const inputs = await prepare(recipe('x86-boot', []), { cache });
    const disk = path.join(tmp.dir, 'x86.raw');
    mkdirSync(path.join(tmp.dir, 'w1'));
    await buildDisk(inputs, { cacheRoot: cache, out: disk, work: path.join(tmp.dir, 'w1'), epoch: 0 });
    const kvm = await kvmWorks(disk, 'x86');
    const out = await bootUntil(disk, { arch: 'x86', kvm, until: [/I386-MARKER i\d86 thirty-two bits/], timeoutMs: 90_000 });
    expect(out).toContain('Booting `x86-boot');
    // The same disk as qcow2 through `dbco boot`: serial console on the terminal, QEMU exits when the guest powers off.
    const qcow2 = path.join(tmp.dir, 'x86.qcow2');
    execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', disk, qcow2]);
    const r = await runDbco(['boot', qcow2, '--arch', 'x86', '--memory', '96', '--snapshot']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/I386-MARKER i\d86 thirty-two bits/);
  }, 180_000);

  test('frugal layout: base initramfs as fetched + config initramfs, tczs in /tce/optional, onboot.lst in install order', async () => {
    const inputs = await prepare(recipe('x86-frugal', ['extensions: [mirrors, libattr]', 'disk: { layout: frugal, size: 32M }']), { cache });
    const disk = path.join(tmp.dir, 'frugal.raw');
    mkdirSync(path.join(tmp.dir, 'w2'));
    await buildDisk(inputs, { cacheRoot: cache, out: disk, work: path.join(tmp.dir, 'w2'), epoch: 0 });
    const part = path.join(tmp.dir, 'frugal.ext2');
    execFileSync('dd', [`if=${disk}`, `of=${part}`, 'bs=1M', `skip=${PART_OFFSET / 2 ** 20}`, 'status=none']);
    execFileSync('e2fsck', ['-fn', part], { stdio: 'pipe' });
    const x = path.join(tmp.dir, 'frugal-x');
    mkdirSync(x);
    execFileSync('debugfs', ['-R', `rdump / ${x}`, part], { stdio: 'ignore' });
    expect(sha(path.join(x, 'boot/fixture.gz'))).toBe(sha(path.join(df, 'fixture.gz')));
    for (const n of ['mirrors.tcz', 'libattr.tcz']) {
      expect(sha(path.join(x, 'tce/optional', n))).toBe(sha(path.join(sharedMirror(), '7.x/x86/tcz', n)));
    }
    expect(readFileSync(path.join(x, 'tce/onboot.lst'), 'utf8')).toBe(inputs.extensions.map((e) => `${e.name}\n`).join(''));
    const grubCfg = readFileSync(path.join(x, 'boot/grub/grub.cfg'), 'utf8');
    expect(grubCfg).toMatch(/initrd \/boot\/fixture\.gz \/boot\/dbco-config\.gz/);
    const list = execFileSync('sh', ['-c', `zcat '${path.join(x, 'boot/dbco-config.gz')}' | cpio -it --quiet`]).toString().split('\n');
    expect(list).toContain('etc/dbco/x86.txt');
    expect(list).toContain('usr/local/sbin/dbco-provision');
    // tce-load skips an extension whose marker exists: the markers must come from loading, not the image.
    expect(list.filter((p) => /tce\.installed\/(mirrors|libattr)$/.test(p))).toEqual([]);
    expect(list).not.toContain('bin/busybox');
  }, 120_000);

  test('ext3 and ext4: fsck clean and reproducible (host-side)', async () => {
    for (const fs of ['ext3', 'ext4']) {
      const inputs = await prepare(recipe(`x86-${fs}`, [`disk: { filesystem: ${fs}, size: 24M }`]), { cache });
      const shas: string[] = [];
      for (const n of [1, 2]) {
        const work = path.join(tmp.dir, `${fs}-${n}`);
        mkdirSync(work);
        const disk = path.join(work, 'disk.raw');
        await buildDisk(inputs, { cacheRoot: cache, out: disk, work, epoch: 0 });
        shas.push(sha(disk));
        const part = path.join(work, 'part');
        execFileSync('dd', [`if=${disk}`, `of=${part}`, 'bs=1M', `skip=${PART_OFFSET / 2 ** 20}`, 'status=none']);
        execFileSync('e2fsck', ['-fn', part], { stdio: 'pipe' });
        const dump = execFileSync('dumpe2fs', ['-h', part], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
        expect(dump).toMatch(/has_journal/);
        expect(dump).not.toMatch(/metadata_csum/);
      }
      expect(shas[1]).toBe(shas[0]);
    }
  });
});
