import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createHash } from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { PART_OFFSET } from '../../src/outputs/disk/assemble.js';
import { requireTool, runDbco, sharedMirror, tempDir } from '../helpers/env.js';

/**
 * A recipe whose bootlocal and provision steps create, change and delete files on the disk during the
 * Packer stage (and fill a directory past one block, so it is indexed), built twice from one cache for
 * each of ext2, ext3 and ext4: the two disks are byte-identical and e2fsck-clean, and hold what the guest
 * wrote. The bootcodes have no console=ttyS0: the Packer stage must still read the guest's report. Then
 * `dbco test --disk` boots the ext4 result and runs the recipe's checks in the guest.
 */
const D = '/mnt/sda1/data';
const RECIPE = (mirror: string, fs: string): string => [
  'name: guest-writes',
  'release: "6.4.1"',
  'arch: x86_64',
  `mirror: ${mirror}`,
  'base: rootfs64.gz',
  'kernel: vmlinuz64',
  'bootcodes: [noswap, nozswap, nodhcp]',
  'bootlocal:',
  `  - "mkdir -p ${D}/boot && echo one > ${D}/boot/a && echo two > ${D}/boot/b && echo changed >> ${D}/boot/a && rm ${D}/boot/b && date > ${D}/boot/when && touch /tmp/bootlocal-done"`,
  'provision:',
  '  - "while [ ! -f /tmp/bootlocal-done ]; do sleep 1; done"',
  `  - "mkdir -p ${D}/many && i=0 && while [ $i -lt 400 ]; do echo $i > ${D}/many/entry-with-a-long-name-$i; i=$((i+1)); done"`,
  `  - "i=0 && while [ $i -lt 400 ]; do rm ${D}/many/entry-with-a-long-name-$i; i=$((i+3)); done"`,
  `  - "dd if=/dev/urandom of=${D}/big bs=1k count=600 2>/dev/null && rm ${D}/big && echo keep > ${D}/kept && ln -s kept ${D}/link && ln ${D}/kept ${D}/hard && chown -h tc:staff ${D}/link"`,
  `  - "mkdir ${D}/gone && touch ${D}/gone/x && rm -r ${D}/gone && chmod 4755 ${D}/kept && rm ${D}/boot/when && mknod ${D}/null c 1 3"`,
  `disk: { filesystem: ${fs} }`,
  'checks:',
  `  - { name: guest data, run: "cat ${D}/kept", stdout: "keep" }`,
  '  - { name: kernel, run: "uname -r", stdout_matches: "^3\\\\.16\\\\." }',
  `  - { name: must fail, run: "ls ${D}/gone" }`,
  '',
].join('\n');

describe('disk written by the guest during the Packer stage: reproducible', () => {
  const tmp = tempDir('dbco-disk-writes-');
  const cache = path.join(tmp.dir, 'cache');
  const recipeFor = (fs: string): string => path.join(tmp.dir, `guest-writes-${fs}.yaml`);
  const disks: Record<string, string[]> = {};
  const sha = (f: string): string => createHash('sha256').update(readFileSync(f)).digest('hex');
  const debugfs = (cmd: string, part: string): string => execFileSync('debugfs', ['-R', cmd, part], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();

  beforeAll(async () => {
    requireTool('packer');
    requireTool('debugfs');
    mkdirSync(path.join(tmp.dir, 'out'));
    for (const fs of ['ext2', 'ext3', 'ext4']) execFileSync('sh', ['-c', `cat > '${recipeFor(fs)}'`], { input: RECIPE(sharedMirror(), fs) });
  });
  afterAll(() => tmp.cleanup());

  // ext4 first: `dbco test --disk` below boots its disk. One cache for all: only the VM stage repeats.
  test.each(['ext4', 'ext2', 'ext3'])('%s: two builds from one cache are byte-identical, e2fsck clean, and hold what the guest wrote', async (fs) => {
    const built: string[] = [];
    for (const n of [1, 2]) {
      const out = path.join(tmp.dir, 'out', `${fs}-${n}.raw`);
      const r = await runDbco(['image', recipeFor(fs), '--disk', '-o', out, '--cache', cache]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).not.toMatch(/in place only|not byte-reproducible/);
      // The re-layout's own time (docs/disk.md quotes it).
      const relaid = /the guest's filesystem made again from its tree in [\d.]+ s/.exec(r.stderr);
      expect(relaid, r.stderr).not.toBeNull();
      console.info(`${fs} build ${n}: ${relaid![0]}`);
      built.push(out);
    }
    disks[fs] = built;
    expect(sha(built[1]!)).toBe(sha(built[0]!));
    const part = path.join(tmp.dir, `part-${fs}`);
    execFileSync('dd', [`if=${built[0]}`, `of=${part}`, 'bs=1M', `skip=${PART_OFFSET / 2 ** 20}`, 'status=none']);
    const fsck = spawnSync('e2fsck', ['-fn', part]);
    expect(fsck.status, fsck.stdout.toString()).toBe(0);
    const features = debugfs('features', part);
    if (fs === 'ext2') expect(features).not.toMatch(/has_journal/);
    else expect(features).toMatch(/has_journal/);
    expect(/\bextent\b/.test(features)).toBe(fs === 'ext4');
    expect(debugfs(`cat ${'/data/boot/a'}`, part)).toBe('one\nchanged\n');
    expect(debugfs('ls /data/boot', part)).not.toMatch(/\bwhen\b|\bb\b/);
    const many = debugfs('ls -p /data/many', part).split('\n').filter((l) => l.includes('entry-with'));
    expect(many).toHaveLength(400 - 134);
    // Hard link, setuid bit, symlink owner and device node survive the re-layout.
    const data = debugfs('ls -l /data', part);
    const ino = (name: string): string => new RegExp(`^\\s*(\\d+)\\s+\\S+\\s+\\(\\d+\\)\\s+\\d+\\s+\\d+\\s+\\S+.* ${name}\\s*$`, 'm').exec(data)?.[1] ?? `no ${name}`;
    expect(ino('hard')).toBe(ino('kept'));
    expect(debugfs('stat /data/kept', part)).toMatch(/Mode:\s+04755/);
    expect(debugfs('stat /data/link', part)).toMatch(/User:\s+1001\s+Group:\s+50\b/);
    expect(debugfs('stat /data/null', part)).toMatch(/Type: character special[\s\S]*Device major\/minor number: 01:03/);
    rmSync(part);
    // The second copy has done its job; the disks of three filesystems need not all stay.
    if (fs !== 'ext4') for (const d of built) rmSync(d);
  }, 1_200_000);

  test('dbco test --disk boots it and runs the checks in the guest: PASS rows, a FAIL row, exit 1', async () => {
    requireTool('qemu-system-x86_64');
    const ext4 = disks.ext4!;
    const r = await runDbco(['test', recipeFor('ext4'), '--disk', '--from', ext4[0]!, '-q']);
    expect(r.code, r.stderr + r.stdout).toBe(1);
    expect(r.stdout).toMatch(/^guest data +PASS$/m);
    expect(r.stdout).toMatch(/^kernel +PASS$/m);
    expect(r.stdout).toMatch(/^must fail +FAIL +exit 1, expected 0$/m);
    expect(r.stdout).toMatch(/^2 passed, 1 failed$/m);
    // --snapshot: the checks' boot left the disk as it was.
    expect(sha(ext4[0]!)).toBe(sha(ext4[1]!));
  }, 600_000);
});
