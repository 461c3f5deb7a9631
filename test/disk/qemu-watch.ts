import { spawn } from 'node:child_process';
import { qemuArgs, qemuBinary, stopChild, type QemuBootOptions } from '../../src/outputs/disk/qemu.js';
import { requireTool } from '../helpers/env.js';

/**
 * Boots a disk under QEMU with the serial console on stdout and resolves once every pattern has been
 * seen (or rejects at the timeout with the console so far). The VM is killed either way, and the promise
 * settles only after QEMU has exited: until then it holds the disk's write lock (qemu-img would fail on it).
 */
export async function bootUntil(disk: string, opts: Omit<QemuBootOptions, 'serial'> & { until: RegExp[]; timeoutMs?: number; /** Wait for the guest to power off (after the patterns) instead of killing it. */ waitExit?: boolean }): Promise<string> {
  const bin = qemuBinary(opts.arch);
  requireTool(bin);
  const child = spawn(bin, qemuArgs(disk, { ...opts, serial: 'stdio' }), { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  return await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      const err = new Error(`timeout waiting for ${opts.until.filter((r) => !r.test(out)).join(', ')}; console:\n${out.slice(-4000)}`);
      void stopChild(child).then(() => reject(err));
    }, opts.timeoutMs ?? 90_000);
    const check = (): void => {
      if (!opts.waitExit && opts.until.every((r) => r.test(out))) {
        clearTimeout(timer);
        void stopChild(child).then(() => resolve(out));
      }
    };
    child.stdout.on('data', (c: Buffer) => { out += c.toString('latin1'); check(); });
    child.stderr.on('data', (c: Buffer) => { out += c.toString('latin1'); });
    child.on('close', () => {
      clearTimeout(timer);
      if (opts.until.every((r) => r.test(out))) resolve(out);
      else reject(new Error(`qemu exited before ${opts.until.filter((r) => !r.test(out)).join(', ')}; console:\n${out.slice(-4000)}`));
    });
  });
}
