/**
 * The VM stage: Packer's qemu builder boots the assembled disk (disk_image), the guest runs the recipe's
 * provision steps from a second, read-only drive (see hooks.ts) and powers itself off; Packer's output
 * disk is the artifact. The template is plain JSON that Packer 1.6.6 and current Packer (with the qemu
 * plugin) both accept.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, writeFile, appendFile } from 'node:fs/promises';
import path from 'node:path';
import { ToolError } from '../../errors.js';
import type { Logger } from '../../io/logger.js';
import { PROVISION_DONE, PROVISION_EXIT } from './hooks.js';
import { runTool } from './tools.js';

export interface PackerPaths {
  buildDir: string;
  template: string;
  log: string;
  serialLog: string;
  outputDir: string;
  artifact: string;
}

export function packerPaths(buildDir: string, vmName = 'disk.raw'): PackerPaths {
  return {
    buildDir,
    template: path.join(buildDir, 'packer.json'),
    log: path.join(buildDir, 'packer.log'),
    serialLog: path.join(buildDir, 'serial.log'),
    outputDir: path.join(buildDir, 'packer-output'),
    artifact: path.join(buildDir, 'packer-output', vmName),
  };
}

export async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(file)) h.update(c as Buffer);
  return h.digest('hex');
}

export interface TemplateInput {
  disk: string;
  diskSha256: string;
  diskBytes: number;
  provisionDrive: string;
  accelerator: 'kvm' | 'tcg';
  memoryMiB: number;
  arch: 'x86' | 'x86_64';
  paths: PackerPaths;
  /** How long the guest may take to run its steps and power off. */
  shutdownTimeout?: string;
}

export function packerTemplate(t: TemplateInput): object {
  const vmName = path.basename(t.paths.artifact);
  return {
    builders: [{
      type: 'qemu',
      vm_name: vmName,
      iso_url: t.disk,
      iso_checksum: `sha256:${t.diskSha256}`,
      disk_image: true,
      use_backing_file: false,
      format: 'raw',
      // The same size as the input, and no resize step: the artifact keeps dbco's partition layout.
      disk_size: `${Math.floor(t.diskBytes / (1024 * 1024))}M`,
      skip_resize_disk: true,
      skip_compaction: true,
      headless: true,
      accelerator: t.accelerator,
      qemu_binary: t.arch === 'x86' ? 'qemu-system-i386' : 'qemu-system-x86_64',
      memory: t.memoryMiB,
      communicator: 'none',
      boot_wait: '0s',
      shutdown_timeout: t.shutdownTimeout ?? '15m',
      output_directory: t.paths.outputDir,
      // Drives are given explicitly (Packer then adds none of its own): the disk Packer copied into its
      // output folder, and the provision drive beside it (snapshot=on: IDE has no read-only disks).
      qemuargs: [
        ['-drive', `file=${t.paths.artifact},if=ide,index=0,format=raw,media=disk`],
        ['-drive', `file=${t.provisionDrive},if=ide,index=1,format=raw,media=disk,snapshot=on`],
        ['-serial', `file:${t.paths.serialLog}`],
        ['-boot', 'c'],
      ],
    }],
  };
}

export async function writePackerTemplate(t: TemplateInput): Promise<string> {
  await writeFile(t.paths.template, `${JSON.stringify(packerTemplate(t), null, 2)}\n`);
  return t.paths.template;
}

/** Runs `packer build`, streaming its lines into the log and packer.log, then checks the guest's report. */
export async function runPacker(paths: PackerPaths, log?: Logger): Promise<{ provisionOutput: string }> {
  await writeFile(paths.log, '');
  const lines: string[] = [];
  const res = await runTool('packer', ['build', '-force', '-color=false', paths.template], {
    cwd: paths.buildDir,
    env: { ...process.env, PACKER_NO_COLOR: '1', CHECKPOINT_DISABLE: '1' },
    allowFail: true,
    onLine: (l) => {
      lines.push(l);
      log?.info(`packer: ${l}`);
    },
  });
  await appendFile(paths.log, lines.join('\n') + '\n');
  let serial = '';
  try { serial = (await readFile(paths.serialLog)).toString('latin1'); } catch { /* reported below */ }
  if (res.code !== 0) {
    throw new ToolError('packer', `build failed (exit ${res.code}); see ${paths.log} and ${paths.serialLog}: ${lines.slice(-3).join(' | ')}`);
  }
  return { provisionOutput: guestReport(serial, paths.serialLog) };
}

/**
 * The guest's report on its serial console: the provision output, or a ToolError when the boot was
 * never confirmed or a step failed (the script runs with set -e, so the exit is the failing step's).
 */
export function guestReport(serial: string, serialLog: string): string {
  if (!serial.includes(PROVISION_DONE)) {
    throw new ToolError('packer', `the guest never confirmed its boot; console in ${serialLog}`);
  }
  const exit = new RegExp(`${PROVISION_EXIT}(\\d+)`).exec(serial);
  if (!exit || exit[1] !== '0') {
    throw new ToolError('packer', `a provision step failed (exit ${exit?.[1] ?? '?'}); console in ${serialLog}`);
  }
  const start = serial.indexOf('dbco-provision: running steps');
  return start >= 0 ? serial.slice(start, serial.indexOf(PROVISION_DONE)) : '';
}
