/**
 * `dbco image --disk`: prepare -> assembleRootfs -> (+ disk hooks layer) -> host-side disk assembly ->
 * Packer VM stage (provision, boot confirmation) -> normalized artifact at -o in its format (formats.ts).
 */
import { copyFile, mkdir, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Cache, defaultCacheDir } from '../../cache/index.js';
import { RecipeError } from '../../errors.js';
import { onInterrupt } from '../../io/interrupt.js';
import { prepare } from '../../pipeline/prepare.js';
import { archOfPlatform } from '../../recipe/arch.js';
import type { Logger } from '../../io/logger.js';
import type { PreparedInputs } from '../../resolve/prepared.js';
import { assembleRootfs } from '../../rootfs/assemble.js';
import { buildEpoch } from '../../rootfs/epoch.js';
import { flattenLayers } from '../../rootfs/flatten.js';
import { assembleDisk, parseSize, PART_OFFSET, type AssembledDisk, type FilesystemInput } from './assemble.js';
import { normalizeExtPartition } from './ext-normalize.js';
import { chooseFormat, ovaDiskName, writeDiskFormat, type DiskFormat, type DiskSubformat } from './formats.js';
import { diskHooksLayer, provisionDrive } from './hooks.js';
import { frugalLayout, initramfsLayout } from './layout.js';
import { packerPaths, runPacker, sha256File, writePackerTemplate, type PackerPaths } from './packer.js';
import { kvmWorks } from './qemu.js';
import { relayoutPartition } from './relayout.js';
import { findTool } from './tools.js';

export interface DiskImageOptions {
  output?: string;
  format?: DiskFormat;
  /** vmdk: streamOptimized | monolithicSparse; vhd: dynamic | fixed. */
  subformat?: DiskSubformat;
  mirror?: string;
  cache?: string;
  offline?: boolean;
  frozen?: boolean;
  packerTemplateOnly?: boolean;
  /** false (--no-packer): host-side assembly only, no VM stage. */
  packer?: boolean;
  /** Where the template, logs and intermediate disks go (default: <output>.build). */
  buildDir?: string;
  memory?: number;
  quiet?: boolean;
  /** -v: Packer's own output on the log as it comes (it always goes to <build dir>/packer.log). */
  verbose?: boolean;
  allowOutsideSrc?: boolean;
  log?: Logger;
  /** linux/386 or linux/amd64: which arch of a multi-arch recipe the disk is for (a disk holds one). */
  platform?: string;
  /** --sbom FILE: the disk's CycloneDX SBOM, written once the disk is. */
  sbom?: string;
}

export interface DiskImageResult {
  output: string;
  buildDir: string;
  fsUuid: string;
  cmdline: string;
  packer?: PackerPaths;
  provisionOutput?: string;
  /** Milliseconds spent in host-side assembly and in the VM stage. */
  timings: { assembleMs: number; packerMs?: number; /** The re-layout of what the guest wrote (mke2fs again from its tree). */ relayoutMs?: number };
  /** The SBOM file written (--sbom). */
  sbom?: string;
}

function stderrLog(quiet?: boolean): Logger {
  return {
    info: (m) => { if (!quiet) process.stderr.write(`${m}\n`); },
    warn: (m) => { process.stderr.write(`warning: ${m}\n`); },
  };
}

/** The recipe's filesystem fields, as the host-side assembly and the re-layout after the VM stage use them. */
function filesystemInput(inputs: PreparedInputs, epoch: number): FilesystemInput {
  const disk = inputs.recipe.disk;
  return {
    digest: inputs.recipeDigest,
    epoch,
    sizeBytes: parseSize(disk?.size ?? '64M'),
    filesystem: disk?.filesystem ?? 'ext2',
    label: disk?.label ?? 'dbco',
  };
}

/** Host-side part, shared by the CLI, the tests and the bench: recipe inputs to a bootable raw disk. */
export async function buildDisk(inputs: PreparedInputs, opts: { cacheRoot: string; out: string; work: string; epoch?: number; log?: Logger }): Promise<AssembledDisk> {
  const { recipe } = inputs;
  const epoch = opts.epoch ?? buildEpoch();
  if (!inputs.kernel) throw new RecipeError(inputs.recipePath, 'kernel', 'a disk needs a kernel: set kernel (e.g. vmlinuz64)');
  const setup = recipe.image?.setup === 'none' ? 'none' : 'boot';
  const rootfs = await assembleRootfs(inputs, { cache: new Cache(opts.cacheRoot), epoch, setup, log: opts.log });
  const hooks = await diskHooksLayer(flattenLayers(rootfs.layers), epoch);
  const layers = [...rootfs.layers, hooks];
  const layout = recipe.disk?.layout === 'frugal' ? frugalLayout(inputs, layers) : initramfsLayout(layers);
  const kernelPath = inputs.kernel.path;
  const kernelName = recipe.kernel ?? path.basename(inputs.kernel.origin.split('!').pop() ?? '') ?? 'vmlinuz';
  return await assembleDisk({
    ...filesystemInput(inputs, epoch),
    title: recipe.name,
    kernel: { name: kernelName || 'vmlinuz', write: (dest) => copyFile(kernelPath, dest) },
    initrds: layout.initrds,
    optional: layout.optional,
    onboot: layout.onboot,
    bootcodes: recipe.bootcodes ?? [],
  }, opts.out, opts.work, opts.log);
}

export async function runDiskImage(recipePath: string, opts: DiskImageOptions = {}): Promise<DiskImageResult> {
  const log = opts.log ?? stderrLog(opts.quiet);
  const runVm = opts.packer !== false;
  // Missing tools are reported before anything is fetched or built.
  findTool('mke2fs');
  findTool('grub-mkimage');
  if (runVm && !opts.packerTemplateOnly) {
    findTool('packer');
    findTool('debugfs'); // the re-layout after the boot
  }

  const cacheRoot = opts.cache ?? defaultCacheDir();
  const inputs = await prepare(recipePath, {
    mirror: opts.mirror, cache: cacheRoot, offline: opts.offline, frozen: opts.frozen, allowOutsideSrc: opts.allowOutsideSrc, log,
    ...(opts.platform ? { arch: archOfPlatform(opts.platform) } : {}),
    ...(opts.sbom ? { info: true } : {}),
  });
  const { recipe } = inputs;
  const choice = chooseFormat(recipePath, recipe, { format: opts.format, output: opts.output, subformat: opts.subformat, sizeBytes: parseSize(recipe.disk?.size ?? '64M') });
  if (choice.format === 'qcow2') findTool('qemu-img');
  const output = path.resolve(opts.output ?? `${recipe.name}.${choice.format}`);
  const buildDir = path.resolve(opts.buildDir ?? `${output}.build`);
  await mkdir(buildDir, { recursive: true });
  const epoch = buildEpoch();
  const tmp = `${output}.tmp-${process.pid}`;
  // SIGINT/SIGTERM: the tools (Packer and its VM, mke2fs, debugfs, qemu-img) are stopped by runTool; the disks
  // in the build folder and the half-written output go. The logs stay, for a look at what was running.
  const forget = onInterrupt(() => Promise.all([
    ...['assembled.raw', 'provision.img', 'packer-output', 'staging', 'relayout', 'packer_cache', ovaDiskName(recipe)].map((n) => rm(path.join(buildDir, n), { recursive: true, force: true })),
    rm(tmp, { force: true }),
  ]), `disk build files in ${buildDir}`);
  try {
    return await buildAndWrite();
  } finally {
    forget();
  }

  async function buildAndWrite(): Promise<DiskImageResult> {
    const t0 = Date.now();
    const assembled = path.join(buildDir, 'assembled.raw');
    const disk = await buildDisk(inputs, { cacheRoot, out: assembled, work: buildDir, epoch, log });
    const assembleMs = Date.now() - t0;
    log.info(`disk assembled in ${(assembleMs / 1000).toFixed(1)} s (filesystem UUID ${disk.fsUuid})`);

    let final = assembled;
    let paths: PackerPaths | undefined;
    let provisionOutput: string | undefined;
    let packerMs: number | undefined;
    let relayoutMs: number | undefined;
    if (runVm) {
      paths = packerPaths(buildDir);
      const provision = path.join(buildDir, 'provision.img');
      await writeFile(provision, provisionDrive(recipe.provision ?? []));
      const kvm = await kvmWorks(assembled, recipe.arch);
      await writePackerTemplate({
        disk: assembled,
        diskSha256: await sha256File(assembled),
        diskBytes: (await stat(assembled)).size,
        provisionDrive: provision,
        accelerator: kvm ? 'kvm' : 'tcg',
        memoryMiB: opts.memory ?? recipe.vm?.memory ?? 256,
        arch: recipe.arch,
        paths,
      });
      log.info(`packer template: ${paths.template}`);
      if (opts.packerTemplateOnly) {
        return { output: paths.template, buildDir, fsUuid: disk.fsUuid, cmdline: disk.cmdline, packer: paths, timings: { assembleMs } };
      }
      const t1 = Date.now();
      ({ provisionOutput } = await runPacker(paths, { log, verbose: Boolean(opts.verbose) }));
      for (const line of provisionOutput.split('\n')) if (line.trim()) log.info(`guest: ${line.trimEnd()}`);
      packerMs = Date.now() - t1;
      // The guest's writes were laid out by a running kernel (timing, PIDs, random generations): the
      // filesystem is made again from its tree, then normalized (times, mount fields, journal).
      const t3 = Date.now();
      const relaid = await relayoutPartition(paths.artifact, filesystemInput(inputs, epoch), buildDir, log);
      relayoutMs = Date.now() - t3;
      if (relaid.relaid) log.info(`the guest's filesystem made again from its tree in ${(relayoutMs / 1000).toFixed(1)} s`);
      if (!relaid.relaid) {
        log.warn(`the guest's filesystem is normalized in place only (${relaid.reason}): where its writes landed may differ between builds`);
        const norm = await normalizeExtPartition(paths.artifact, PART_OFFSET, epoch);
        if (norm.journal === false) log.warn('the guest did not close the journal cleanly: it is left as is, so this disk is not byte-reproducible');
      }
      final = paths.artifact;
      log.info(`VM stage done in ${(packerMs / 1000).toFixed(1)} s`);
    }

    const t2 = Date.now();
    await writeDiskFormat(final, output, choice, { recipe, epoch, work: buildDir, log });
    if (choice.format !== 'raw') log.info(`${choice.format}${choice.subformat ? ` (${choice.subformat})` : ''} written in ${((Date.now() - t2) / 1000).toFixed(1)} s`);
    if (paths) await rm(paths.outputDir, { recursive: true, force: true });
    log.info(`wrote ${output}`);
    const sbom = opts.sbom ? await writeDiskSbom(inputs, opts.sbom, epoch) : undefined;
    if (sbom) log.info(`wrote the SBOM ${sbom}`);
    // The CLI (no logger given) prints the result on stdout, like --docker prints the image ID.
    if (!opts.log) process.stdout.write(`${output}\n`);
    return { output, buildDir, fsUuid: disk.fsUuid, cmdline: disk.cmdline, packer: paths, provisionOutput, timings: { assembleMs, packerMs, relayoutMs }, ...(sbom ? { sbom } : {}) };
  }
}

/** The disk's SBOM (the same builder as the image's: base, extensions, graph; the subject an operating system) into `file`. */
export async function writeDiskSbom(inputs: PreparedInputs, file: string, epoch: number): Promise<string> {
  const { sbomOfBuild, writeSbomFiles } = await import('../sbom.js');
  const bytes = sbomOfBuild(inputs, { kind: 'disk', name: inputs.recipe.name }, epoch);
  const [written] = await writeSbomFiles(file, [{ arch: inputs.recipe.arch, bytes }]);
  return written!;
}
