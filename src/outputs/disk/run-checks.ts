/**
 * `dbco test RECIPE --disk`: boots the disk under QEMU (as `dbco boot`, with --snapshot: the disk is not
 * changed) with a drive the provision hook runs, like the Packer stage's; the script runs each check as
 * root and reports its stdout (hex, so the console cannot mangle it) and exit status on the serial port.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ToolError } from '../../errors.js';
import { onInterrupt } from '../../io/interrupt.js';
import type { Logger } from '../../io/logger.js';
import type { CheckSpec } from '../../recipe/schema.js';
import { evaluateCheck, type CheckResult, type CheckRun } from '../checks/evaluate.js';
import { PROVISION_DONE, scriptDrive, shq } from './hooks.js';
import { checkDiskFile, kvmWorks, NO_BOOTABLE_DEVICE, qemuArgs, qemuBinary, type Arch } from './qemu.js';
import { findTool, stopChild, stopOnInterrupt } from './tools.js';

/** Most stdout bytes reported per check. */
const MAX_STDOUT = 65536;

export function checksScript(checks: readonly CheckSpec[]): string {
  const lines = ['#!/bin/sh'];
  checks.forEach((c, i) => {
    const tag = `dbco-check[${i + 1}]`;
    lines.push(
      `sh -c ${shq(c.run)} > /tmp/dbco-check.out 2>/dev/null < /dev/null; s=$?`,
      `echo "${tag}: stdout $(head -c ${MAX_STDOUT} /tmp/dbco-check.out | od -An -v -tx1 | tr -d ' \\n')"`,
      `echo "${tag}: exit $s"`,
    );
  });
  lines.push('rm -f /tmp/dbco-check.out', 'exit 0', '');
  return lines.join('\n');
}

/** Each check's run from the serial console; a check the guest never reported has exit null. */
export function parseCheckReport(serial: string, count: number): CheckRun[] {
  const text = serial.replace(/\r/g, '');
  return Array.from({ length: count }, (_, i) => {
    const tag = `dbco-check\\[${i + 1}\\]`;
    const out = new RegExp(`^${tag}: stdout ([0-9a-f]*)$`, 'm').exec(text);
    const exit = new RegExp(`^${tag}: exit (\\d+)$`, 'm').exec(text);
    if (!out || !exit) return { stdout: '', exit: null };
    return { stdout: Buffer.from(out[1]!, 'hex').toString('utf8'), exit: Number(exit[1]) };
  });
}

export interface DiskCheckOptions {
  arch: Arch;
  memoryMiB?: number;
  timeoutMs?: number;
  log?: Logger;
}

export async function runDiskChecks(disk: string, checks: readonly CheckSpec[], opts: DiskCheckOptions): Promise<CheckResult[]> {
  const format = checkDiskFile(disk);
  const bin = findTool(qemuBinary(opts.arch));
  const work = await mkdtemp(path.join(tmpdir(), 'dbco-test-'));
  const forget = onInterrupt(() => rm(work, { recursive: true, force: true }), work);
  try {
    const drive = path.join(work, 'checks.img');
    const serialLog = path.join(work, 'serial.log');
    await writeFile(drive, scriptDrive(checksScript(checks)));
    const kvm = await kvmWorks(disk, opts.arch, process.env, 6000, format);
    const args = qemuArgs(disk, {
      arch: opts.arch, memoryMiB: opts.memoryMiB ?? 256, kvm, extraDrives: [drive], serial: { file: serialLog }, snapshot: true, format,
    });
    opts.log?.info(`booting ${disk} (${kvm ? 'KVM' : 'TCG'}) to run ${checks.length} check(s)`);
    const serial = await bootToPoweroff(bin, args, serialLog, opts.timeoutMs ?? 600_000);
    if (!serial.includes(PROVISION_DONE)) {
      throw new ToolError(qemuBinary(opts.arch), `the guest powered off without running the checks (is this a dbco disk?); console: ${serial.replace(/\r/g, '').trim().split('\n').slice(-3).join(' | ')}`);
    }
    return parseCheckReport(serial, checks.length).map((run, i) => evaluateCheck(checks[i]!, run));
  } finally {
    forget();
    await rm(work, { recursive: true, force: true });
  }
}

/** Runs QEMU until the guest powers off (-no-reboot), then returns the serial console. */
async function bootToPoweroff(bin: string, args: string[], serialLog: string, timeoutMs: number): Promise<string> {
  const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  stopOnInterrupt(child, 'the checks\' VM');
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
  const read = (): Promise<string> => readFile(serialLog, 'latin1').catch(() => '');
  let stopped = '';
  const poll = setInterval(() => {
    void read().then((s) => {
      // SeaBIOS then waits forever: nothing to boot.
      if (NO_BOOTABLE_DEVICE.test(s) && !stopped) { stopped = 'the BIOS found no bootable device'; void stopChild(child); }
    });
  }, 1000);
  const timer = setTimeout(() => { stopped ||= `no power-off within ${timeoutMs / 1000} s`; void stopChild(child); }, timeoutMs);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (c) => resolve(c));
  }).finally(() => { clearInterval(poll); clearTimeout(timer); });
  const serial = await read();
  if (stopped) throw new ToolError(path.basename(bin), `${stopped}; console: ${serial.replace(/\r/g, '').trim().split('\n').slice(-3).join(' | ')}`);
  if (code !== 0) throw new ToolError(path.basename(bin), `exited ${code}: ${stderr.trim().split('\n').pop() ?? ''}`);
  return serial;
}
