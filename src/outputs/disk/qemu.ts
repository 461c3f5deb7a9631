/**
 * QEMU command lines for booting a dbco disk: the BIOS boots the MBR (GRUB does the rest, no -kernel),
 * serial console on stdio or a file, KVM only when it really works here (kvmWorks), TCG otherwise.
 */
import { accessSync, closeSync, constants, openSync, readSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { stopChild, stopOnInterrupt } from './tools.js';
import { DbcoError } from '../../errors.js';

export type Arch = 'x86' | 'x86_64';

/** /dev/kvm exists and this user may open it. DBCO_ACCEL=tcg|kvm overrides every check. */
export function kvmAccessible(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.DBCO_ACCEL) return env.DBCO_ACCEL === 'kvm';
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

const probed = new Map<string, boolean>();

/**
 * Whether KVM really runs a dbco disk here. An accessible /dev/kvm is not enough: under some nested
 * hypervisors real mode works (SeaBIOS, boot.img) but GRUB's protected-mode kernel never runs. So boot
 * the disk briefly under KVM and wait for GRUB's first words on the serial console; the answer is kept
 * for the process.
 */
export async function kvmWorks(disk: string, arch: Arch, env: NodeJS.ProcessEnv = process.env, timeoutMs = 6000, format: 'raw' | 'qcow2' = 'raw'): Promise<boolean> {
  if (env.DBCO_ACCEL) return env.DBCO_ACCEL === 'kvm';
  if (!kvmAccessible(env)) return false;
  const key = qemuBinary(arch);
  const known = probed.get(key);
  if (known !== undefined) return known;
  const ok = await new Promise<boolean>((resolve) => {
    const child = spawn(key, qemuArgs(disk, { arch, kvm: true, memoryMiB: 64, serial: 'stdio', snapshot: true, format }), { stdio: ['ignore', 'pipe', 'ignore'] });
    stopOnInterrupt(child, 'KVM probe');
    let out = '';
    // Resolved only once QEMU has exited: until then it holds the disk's write lock.
    const done = (v: boolean): void => { clearTimeout(timer); void stopChild(child).then(() => resolve(v)); };
    const timer = setTimeout(() => done(false), timeoutMs);
    child.stdout.on('data', (c: Buffer) => { out += c.toString('latin1'); if (/Welcome to GRUB|Booting `/.test(out)) done(true); });
    child.on('error', () => done(false));
    child.on('close', () => done(/Welcome to GRUB|Booting `/.test(out)));
  });
  probed.set(key, ok);
  return ok;
}

export function qemuBinary(arch: Arch): string {
  return arch === 'x86' ? 'qemu-system-i386' : 'qemu-system-x86_64';
}

export interface QemuBootOptions {
  arch: Arch;
  memoryMiB?: number;
  /** Use KVM (decide with kvmWorks); TCG otherwise. */
  kvm?: boolean;
  /** Extra raw drives after the boot disk (e.g. the provision drive). */
  extraDrives?: string[];
  /** Where the serial console goes: 'stdio' (with -nographic) or a file path. */
  serial?: 'stdio' | { file: string };
  snapshot?: boolean;
  /** Image format of the boot disk (default raw). */
  format?: 'raw' | 'qcow2';
}

export { stopChild } from './tools.js';

/** What SeaBIOS prints when no drive has a boot sector; QEMU then waits forever. */
export const NO_BOOTABLE_DEVICE = /No bootable device/;

/**
 * The disk's format from its first sector, or a DbcoError when it is no disk at all (a recipe, a tar):
 * qcow2 by its magic, raw by the MBR boot signature 0x55 0xAA at byte 510.
 */
export function checkDiskFile(file: string): 'raw' | 'qcow2' {
  const head = Buffer.alloc(512);
  let n = 0;
  try {
    const fd = openSync(file, 'r');
    try { n = readSync(fd, head, 0, 512, 0); } finally { closeSync(fd); }
  } catch (err) {
    throw new DbcoError('NOT_A_DISK', `${file}: cannot read: ${(err as Error).message}`, { cause: err });
  }
  if (n >= 4 && diskFormat(head) === 'qcow2') return 'qcow2';
  if (n === 512 && head[510] === 0x55 && head[511] === 0xaa) return 'raw';
  throw new DbcoError('NOT_A_DISK', `${file}: not a raw or qcow2 disk (no MBR boot signature, no qcow2 magic): give what dbco image --disk --format raw|qcow2 writes`);
}

/** qcow2 files start with 'QFI\xfb'; anything else is booted as raw. */
export function diskFormat(head: Uint8Array): 'raw' | 'qcow2' {
  return head[0] === 0x51 && head[1] === 0x46 && head[2] === 0x49 && head[3] === 0xfb ? 'qcow2' : 'raw';
}

export function qemuArgs(disk: string, o: QemuBootOptions): string[] {
  const args = ['-m', String(o.memoryMiB ?? 256), '-no-reboot'];
  args.push(...(o.kvm ? ['-accel', 'kvm', '-cpu', 'host'] : ['-accel', 'tcg']));
  args.push('-drive', `file=${disk},format=${o.format ?? 'raw'},if=ide,index=0,media=disk${o.snapshot ? ',snapshot=on' : ''}`);
  (o.extraDrives ?? []).forEach((d, i) => args.push('-drive', `file=${d},format=raw,if=ide,index=${i + 1},media=disk,snapshot=on`));
  args.push('-boot', 'c', '-net', 'none');
  if (o.serial && o.serial !== 'stdio') args.push('-display', 'none', '-serial', `file:${o.serial.file}`, '-monitor', 'none');
  else args.push('-nographic');
  return args;
}
