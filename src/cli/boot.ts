import { spawn } from 'node:child_process';
import { InvalidArgumentError, type Command } from 'commander';
import { existsSync } from 'node:fs';
import { DbcoError } from '../errors.js';
import { checkDiskFile, kvmWorks, NO_BOOTABLE_DEVICE, qemuArgs, qemuBinary, stopChild, type Arch } from '../outputs/disk/qemu.js';
import { findTool, stopOnInterrupt } from '../outputs/disk/tools.js';
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
      const format = checkDiskFile(disk);
      const bin = findTool(qemuBinary(opts.arch));
      const kvm = await kvmWorks(disk, opts.arch, process.env, 6000, format);
      const args = qemuArgs(disk, { arch: opts.arch, memoryMiB: opts.memory, kvm, serial: 'stdio', snapshot: opts.snapshot, format });
      // Not an error: without KVM QEMU emulates the CPU (TCG), only slower.
      if (!opts.quiet) process.stderr.write(`${kvm ? 'using KVM' : 'no usable KVM here: QEMU emulates the CPU (TCG, slower)'}: ${bin} ${args.join(' ')}\n`);
      let noBoot = false;
      const code = await new Promise<number>((resolve, reject) => {
        // The console is copied through, so a BIOS that found nothing to boot (it then waits forever) is seen.
        const child = spawn(bin, args, { stdio: ['inherit', 'pipe', 'inherit'] });
        stopOnInterrupt(child, 'QEMU');
        let tail = '';
        child.stdout.on('data', (c: Buffer) => {
          process.stdout.write(c);
          tail = (tail + c.toString('latin1')).slice(-200);
          if (!noBoot && NO_BOOTABLE_DEVICE.test(tail)) {
            noBoot = true;
            void stopChild(child);
          }
        });
        child.on('error', reject);
        child.on('close', (c) => resolve(c ?? 1));
      });
      if (noBoot) throw new DbcoError('BOOT', `boot: ${disk}: the BIOS found no bootable device on it`);
      process.exitCode = code;
    });
}
