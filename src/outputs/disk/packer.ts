/**
 * The VM stage: Packer's qemu builder boots the assembled disk (disk_image), the guest runs the recipe's
 * provision steps from a second, read-only drive (see hooks.ts) and powers itself off; Packer's output
 * disk is the artifact. The template is plain JSON that Packer 1.6.6 and current Packer (with the qemu
 * plugin) both accept.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ToolError } from '../../errors.js';
import type { Logger } from '../../io/logger.js';
import { PROVISION_DONE, PROVISION_EXIT } from './hooks.js';
import { runTool } from './tools.js';

export interface PackerPaths {
  buildDir: string;
  template: string;
  log: string;
  /** PACKER_LOG's output: what Packer does not print, such as QEMU's own error when it fails to start. */
  debugLog: string;
  serialLog: string;
  outputDir: string;
  artifact: string;
}

export function packerPaths(buildDir: string, vmName = 'disk.raw'): PackerPaths {
  return {
    buildDir,
    template: path.join(buildDir, 'packer.json'),
    log: path.join(buildDir, 'packer.log'),
    debugLog: path.join(buildDir, 'packer-debug.log'),
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

/** How much of Packer's log (and of the guest's console) a failure prints. */
export const LOG_TAIL_LINES = 30;

export interface PackerRunOptions {
  log?: Logger;
  /** -v / --verbose: every Packer line on the log as it comes; otherwise only the stage names. */
  verbose?: boolean;
  /** How often the guest's console is looked at for the stage it reached (ms). */
  pollMs?: number;
}

/**
 * Runs `packer build`. Its lines go to packer.log as they come; the log shows them only when verbose,
 * else one line per stage (building, booting, provisioning, shutting down), read from Packer's "Starting
 * VM" and from the markers the provision hook prints on the guest's console. On a failure the log gets
 * the tail of packer.log (and, when the guest misreported, of its console) and the paths of both.
 */
export async function runPacker(paths: PackerPaths, opts: PackerRunOptions = {}): Promise<{ provisionOutput: string }> {
  const { log, verbose = false } = opts;
  await writeFile(paths.log, '');
  await writeFile(paths.serialLog, '');
  const packerLog = createWriteStream(paths.log, { flags: 'a' });
  const tail: string[] = [];
  const stages = new StageReporter(log, paths);
  stages.reach('building');
  const watch = setInterval(() => { void stages.fromConsole(); }, opts.pollMs ?? 500);
  let res;
  try {
    res = await runTool('packer', ['build', '-force', '-color=false', paths.template], {
      cwd: paths.buildDir,
      env: { ...process.env, PACKER_NO_COLOR: '1', CHECKPOINT_DISABLE: '1', PACKER_LOG: '1', PACKER_LOG_PATH: paths.debugLog },
      allowFail: true,
      onLine: (l) => {
        packerLog.write(`${l}\n`);
        tail.push(l);
        if (tail.length > LOG_TAIL_LINES) tail.shift();
        if (verbose) log?.info(`packer: ${l}`);
        if (/Starting VM|Starting the virtual machine/i.test(l)) stages.reach('booting');
      },
    });
  } finally {
    clearInterval(watch);
    await new Promise<void>((resolve) => packerLog.end(resolve));
  }
  let serial = '';
  try { serial = (await readFile(paths.serialLog)).toString('latin1'); } catch { /* reported below */ }
  if (res.code !== 0) {
    if (!verbose) printTail(log, 'packer', paths.log, tail);
    throw new ToolError('packer', `build failed (exit ${res.code}); full log ${paths.log}, debug log ${paths.debugLog}, guest console ${paths.serialLog}`);
  }
  try {
    return { provisionOutput: guestReport(serial, paths.serialLog) };
  } catch (err) {
    printTail(log, 'guest', paths.serialLog, serial.split(/\r?\n/).filter((l) => l.trim() !== '').slice(-LOG_TAIL_LINES));
    throw new ToolError('packer', `${(err as Error).message.replace(/^packer: /, '')}; full Packer log ${paths.log}`);
  }
}

function printTail(log: Logger | undefined, who: string, file: string, lines: string[]): void {
  if (!log || lines.length === 0) return;
  log.warn(`last ${lines.length} line(s) of ${file}:`);
  for (const l of lines) log.warn(`  ${who}: ${l}`);
}

type Stage = 'building' | 'booting' | 'provisioning' | 'shutting down';
const ORDER: Stage[] = ['building', 'booting', 'provisioning', 'shutting down'];

/** One line per stage the VM reaches, in order, each once (a later stage implies the earlier ones). */
class StageReporter {
  private at = -1;
  private reading = false;
  constructor(private readonly log: Logger | undefined, private readonly paths: PackerPaths) {}

  reach(stage: Stage): void {
    const i = ORDER.indexOf(stage);
    while (this.at < i) {
      this.at++;
      this.log?.info(`VM stage: ${ORDER[this.at]}${this.at === 0 ? ` (Packer's log: ${this.paths.log}; -v shows it)` : ''}`);
    }
  }

  async fromConsole(): Promise<void> {
    if (this.reading || this.at >= ORDER.length - 1) return;
    this.reading = true;
    try {
      const serial = (await readFile(this.paths.serialLog)).toString('latin1');
      if (serial.length > 0) this.reach('booting');
      if (serial.includes('dbco-provision: running steps')) this.reach('provisioning');
      if (serial.includes(PROVISION_DONE)) this.reach('shutting down');
    } catch {
      // not there yet
    } finally {
      this.reading = false;
    }
  }
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
