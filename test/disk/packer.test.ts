import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { requireTool, runDbco, tempDir } from '../helpers/env.js';
import { writeRecipe } from './fixtures.js';

/**
 * The Packer VM stage through the CLI, as a user runs it: the guest runs the provision steps from the
 * provision drive, prints them and a boot confirmation to the serial log, powers off; the artifact
 * (converted to qcow2 here) holds exactly the host-assembled disk, because that boot wrote nothing and
 * dbco normalizes what a mount changes.
 */
describe('dbco image --disk: Packer stage', () => {
  const tmp = tempDir('dbco-disk-packer-');
  const cache = path.join(tmp.dir, 'cache');
  let recipe = '';
  beforeAll(() => {
    recipe = writeRecipe(tmp.dir, 'packer-test', [
      'provision:',
      '  - echo "PROVISIONED-$(uname -r)"',
      '  - ls /mnt/sda1/tce',
      // ext4: the journal a boot leaves behind is normalized too (ext2 is covered in boot.test.ts).
      'disk: { filesystem: ext4 }',
    ].join('\n'));
  });
  afterAll(() => tmp.cleanup());

  test('--packer-template-only writes a template packer accepts, and no disk', async () => {
    requireTool('packer');
    const out = path.join(tmp.dir, 'tpl', 'disk.raw');
    mkdirSync(path.dirname(out), { recursive: true });
    const r = await runDbco(['image', recipe, '--disk', '-o', out, '--cache', cache, '--packer-template-only', '-q']);
    expect(r.code, r.stderr).toBe(0);
    const template = path.join(`${out}.build`, 'packer.json');
    const t = JSON.parse(readFileSync(template, 'utf8')) as { builders: Record<string, unknown>[] };
    const b = t.builders[0]!;
    expect(b).toMatchObject({ type: 'qemu', disk_image: true, format: 'raw', headless: true, communicator: 'none', skip_resize_disk: true });
    expect(['kvm', 'tcg']).toContain(b.accelerator);
    expect(String(b.iso_checksum)).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(JSON.stringify(b.qemuargs)).toContain('serial.log');
    execFileSync('packer', ['validate', template], { cwd: `${out}.build` });
    expect(existsSync(out)).toBe(false);
  });

  test('packer missing from PATH: a ToolError saying how to install it', async () => {
    const bin = path.join(tmp.dir, 'bin');
    mkdirSync(bin, { recursive: true });
    for (const t of ['mke2fs', 'grub-mkimage']) symlinkSync(requireTool(t), path.join(bin, t));
    const started = Date.now();
    const r = await runDbco(['image', recipe, '--disk', '-o', path.join(tmp.dir, 'none.raw'), '--cache', cache], { env: { PATH: bin } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/packer: not found on PATH; install it \(apt-get install packer, or download it from https:\/\/developer\.hashicorp\.com/);
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  test('a failing VM stage through a pipe: the tail of Packer\'s log and where all of it is; -v streams it instead', async () => {
    requireTool('packer');
    // 1 TiB of guest memory: QEMU cannot set it up, so Packer fails at its first step, within seconds.
    const out = path.join(tmp.dir, 'fail', 'disk.raw');
    mkdirSync(path.dirname(out), { recursive: true });
    const log = path.join(`${out}.build`, 'packer.log');
    const r = await runDbco(['image', recipe, '--disk', '-o', out, '--cache', cache, '--memory', '1048576']);
    expect(r.code).toBe(1);
    const full = readFileSync(log, 'utf8').trimEnd().split('\n');
    const tailHeader = `last ${Math.min(30, full.length)} line(s) of ${log}:`;
    expect(r.stderr).toContain(tailHeader);
    const shown = r.stderr.split('\n').filter((l) => l.startsWith('warning:   packer: ')).map((l) => l.slice('warning:   packer: '.length));
    expect(shown).toEqual(full.slice(-30));
    expect(shown.join('\n')).toContain('Error launching VM');
    // what Packer itself does not print (QEMU's reason) is in its debug log beside it
    expect(readFileSync(path.join(`${out}.build`, 'packer-debug.log'), 'utf8')).toContain('cannot set up guest memory');
    // only in the tail, after the header: nothing of Packer's streamed before it
    expect(r.stderr.indexOf('==> qemu')).toBeGreaterThan(r.stderr.indexOf(tailHeader));
    const last = r.stderr.trimEnd().split('\n').pop()!;
    expect(last).toMatch(new RegExp(`^dbco: packer: build failed \\(exit 1\\); full log ${log.replace(/[.]/g, '\\.')}, debug log .*packer-debug\\.log, guest console `));
    expect(r.stderr).not.toContain('    at ');
    expect(existsSync(out)).toBe(false);

    const v = await runDbco(['image', recipe, '--disk', '-o', out, '--cache', cache, '--memory', '1048576', '-v']);
    expect(v.code).toBe(1);
    expect(v.stderr).toMatch(/packer: ==> qemu/);
    expect(v.stderr).not.toContain('line(s) of');
  }, 300_000);

  test('provision output on the serial log, boot confirmed, artifact = the assembled ext4 disk (qcow2)', async () => {
    requireTool('packer');
    requireTool('qemu-img');
    const out = path.join(tmp.dir, 'full', 'disk.qcow2');
    mkdirSync(path.dirname(out), { recursive: true });
    const r = await runDbco(['image', recipe, '--disk', '-o', out, '--format', 'qcow2', '--cache', cache]);
    expect(r.code, r.stderr).toBe(0);
    const build = `${out}.build`;
    // Through a pipe, without -v: dbco's stage lines in order, none of Packer's own.
    const stages = [...r.stderr.matchAll(/VM stage: ([a-z]+(?: [a-z]+)*)/g)].map((m) => m[1]);
    expect(stages).toEqual(['building', 'booting', 'provisioning', 'shutting down']);
    expect(r.stderr).toContain(`Packer's log: ${path.join(build, 'packer.log')}; -v shows it`);
    expect(r.stderr).not.toMatch(/==> qemu|packer: /);
    expect(r.stdout).toBe(`${out}\n`);
    expect(existsSync(path.join(build, 'packer.json'))).toBe(true);
    expect(readFileSync(path.join(build, 'packer.log'), 'utf8')).toMatch(/Builds finished/);
    const serial = readFileSync(path.join(build, 'serial.log'), 'latin1');
    expect(serial).toContain('PROVISIONED-3.16.6-tinycore64');
    expect(serial).toMatch(/onboot\.lst/);
    expect(serial).toContain('dbco-provision: exit 0');
    expect(serial).toContain('dbco-provision: boot confirmed');
    expect(execFileSync('qemu-img', ['info', out]).toString()).toMatch(/file format: qcow2/);
    const back = path.join(tmp.dir, 'back.raw');
    execFileSync('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', out, back]);
    const sha = (f: string): string => createHash('sha256').update(readFileSync(f)).digest('hex');
    expect(sha(back)).toBe(sha(path.join(build, 'assembled.raw')));
  }, 600_000);
});
