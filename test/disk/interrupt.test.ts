import { afterAll, describe, expect, test } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT, requireTool, tempDir } from '../helpers/env.js';
import { writeRecipe } from './fixtures.js';

/** Processes holding a file under `dir` open, from /proc. */
function holders(dir: string): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    let fds: string[] = [];
    try { fds = readdirSync(`/proc/${pid}/fd`); } catch { continue; }
    for (const fd of fds) {
      try { if (readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith(`${dir}/`)) out.push(pid); } catch { /* gone */ }
    }
  }
  return [...new Set(out)];
}

/** SIGTERM while Packer's VM runs: Packer and QEMU stopped, the build's disks removed, exit 143. */
describe('dbco image --disk interrupted', () => {
  const tmp = tempDir('dbco-disk-int-');
  afterAll(() => tmp.cleanup());

  test('SIGTERM during the VM stage', async () => {
    requireTool('packer');
    const recipe = writeRecipe(tmp.dir, 'int-test', 'provision: ["sleep 600"]');
    const out = path.join(tmp.dir, 'disk.raw');
    const build = `${out}.build`;
    const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin/dbco.js'), 'image', recipe, '--disk', '-o', out, '--cache', path.join(tmp.dir, 'cache'), '-q'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    // Packer has started QEMU once the serial log exists.
    for (let i = 0; i < 600 && !existsSync(path.join(build, 'serial.log')); i++) await new Promise((r) => setTimeout(r, 500));
    expect(existsSync(path.join(build, 'serial.log')), stderr).toBe(true);
    await new Promise((r) => setTimeout(r, 2000));
    child.kill('SIGTERM');
    expect(await exited, stderr).toBe(143);
    expect(holders(build)).toEqual([]);
    for (const n of ['assembled.raw', 'provision.img', 'packer-output']) expect(existsSync(path.join(build, n)), n).toBe(false);
    expect(readdirSync(tmp.dir).filter((n) => n.startsWith('disk.raw') && n !== 'disk.raw.build')).toEqual([]);
  }, 600_000);
});
