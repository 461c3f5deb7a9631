import { spawn } from 'node:child_process';
import { InvalidArgumentError, type Command } from 'commander';
import { closeSync, existsSync, openSync, readSync } from 'node:fs';
import { DbcoError } from '../errors.js';
import { diskFormat, kvmWorks, qemuArgs, qemuBinary, type Arch } from '../outputs/disk/qemu.js';
import { findTool } from '../outputs/disk/tools.js';
import { memoryOption, quietOption } from './flags.js';

function arch(v: string): Arch {
  if (v !== 'x86' && v !== 'x86_64') throw new InvalidArgumentError('x86 or x86_64');
  return v;
}

/** `dbco boot DISK`: the BIOS boots the disk (GRUB, no -kernel) with the serial console on this terminal. */
export function registerBoot(program: Command): void {
  const cmd = program
    .command('boot')
    .description('boot a disk made by `dbco image --disk` in QEMU, serial console on this terminal (Ctrl-A X quits)')
    .argument('<disk>', 'disk image (raw or qcow2)')
    .option('--arch <arch>', 'x86 or x86_64', arch, 'x86_64')
    .option('--snapshot', 'discard the guest\'s writes to the disk');
  quietOption(memoryOption(cmd, 'guest', 256))
    .action(async (disk: string, opts: { memory: number; arch: Arch; snapshot?: boolean; quiet?: boolean }) => {
      if (!existsSync(disk)) throw new DbcoError('USAGE', `boot: ${disk}: no such file`);
      const bin = findTool(qemuBinary(opts.arch));
      const head = Buffer.alloc(4);
      const fd = openSync(disk, 'r');
      readSync(fd, head, 0, 4, 0);
      closeSync(fd);
      const format = diskFormat(head);
      const kvm = await kvmWorks(disk, opts.arch, process.env, 6000, format);
      const args = qemuArgs(disk, { arch: opts.arch, memoryMiB: opts.memory, kvm, serial: 'stdio', snapshot: opts.snapshot, format });
      // Not an error: without KVM QEMU emulates the CPU (TCG), only slower.
      if (!opts.quiet) process.stderr.write(`${kvm ? 'using KVM' : 'no usable KVM here: QEMU emulates the CPU (TCG, slower)'}: ${bin} ${args.join(' ')}\n`);
      const code = await new Promise<number>((resolve, reject) => {
        const child = spawn(bin, args, { stdio: 'inherit' });
        child.on('error', reject);
        child.on('close', (c) => resolve(c ?? 1));
      });
      process.exitCode = code;
    });
}
