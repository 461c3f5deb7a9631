import { afterAll, describe, expect, test } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { requireTool, runDbco, tempDir } from '../helpers/env.js';
import { bootUntil } from './qemu-watch.js';

/** Processes with `file` open, from /proc. */
function holders(file: string): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    let fds: string[] = [];
    try { fds = readdirSync(`/proc/${pid}/fd`); } catch { continue; }
    for (const fd of fds) {
      try { if (readlinkSync(`/proc/${pid}/fd/${fd}`) === file) out.push(pid); } catch { /* gone */ }
    }
  }
  return out;
}

/** `dbco boot` on what is not a bootable disk, and QEMU's write lock after a watched boot. */
describe('dbco boot: not a disk, nothing to boot', () => {
  const tmp = tempDir('dbco-boot-guard-');
  afterAll(() => tmp.cleanup());

  test('a YAML file is refused with one line, before QEMU starts', async () => {
    const yaml = path.join(tmp.dir, 'recipe.yaml');
    writeFileSync(yaml, 'name: x\nrelease: "6.4.1"\narch: x86_64\nbase: rootfs64.gz\n'.repeat(20));
    const r = await runDbco(['boot', yaml]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([`dbco: ${yaml}: not a raw or qcow2 disk (no MBR boot signature, no qcow2 magic): give what dbco image --disk --format raw|qcow2 writes`]);
  });

  test('a disk the BIOS cannot boot ("No bootable device") fails non-zero instead of hanging', async () => {
    requireTool('qemu-img');
    requireTool('qemu-system-x86_64');
    const empty = path.join(tmp.dir, 'empty.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', empty, '16M']);
    const r = await runDbco(['boot', empty, '--snapshot', '--memory', '64']);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toContain('No bootable device');
    expect(r.stderr).toMatch(/: the BIOS found no bootable device on it$/m);
  }, 120_000);

  test('bootUntil settles only once QEMU has exited: its write lock is gone at once', async () => {
    const disk = path.join(tmp.dir, 'lock.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', disk, '16M']);
    for (let i = 0; i < 3; i++) {
      await bootUntil(disk, { arch: 'x86_64', kvm: false, memoryMiB: 64, format: 'qcow2', until: [/Booting from Hard Disk/], timeoutMs: 60_000 });
      // Checked at once, in this process: who still has the disk open (only QEMU could).
      expect(holders(disk)).toEqual([]);
      const resize = spawnSync('qemu-img', ['resize', '-q', disk, `${17 + i}M`]);
      expect(resize.status, resize.stderr.toString()).toBe(0);
    }
  }, 180_000);
});
