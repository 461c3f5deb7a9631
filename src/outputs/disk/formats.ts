/**
 * The disk's file formats: the normalized raw disk written as raw, qcow2 (qemu-img, whose output is
 * byte-stable), or by dbco's own writers (src/formats/disk) as VMDK, VHD, VHDX and the OVA.
 * Every output goes to a temporary name beside -o and is renamed into place when complete.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { copyFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { RecipeError, UsageError } from '../../errors.js';
import { scanDisk } from '../../formats/disk/image-ids.js';
import { ovaManifest, writeOva, type OvaMember } from '../../formats/disk/ova.js';
import { ovfEnvelope, type OvfVm } from '../../formats/disk/ovf.js';
import { writeVhd } from '../../formats/disk/vhd.js';
import { writeVhdx } from '../../formats/disk/vhdx.js';
import { writeVmdk } from '../../formats/disk/vmdk.js';
import { parallelGrainDeflate } from './parallel-deflate.js';
import type { Logger } from '../../io/logger.js';
import type { Recipe } from '../../recipe/schema.js';
import { lazyFileSource } from '../../rootfs/lazy-file.js';
import { runTool } from './tools.js';

export const DISK_FORMATS = ['raw', 'qcow2', 'vmdk', 'vhd', 'vhdx', 'ova'] as const;
export type DiskFormat = (typeof DISK_FORMATS)[number];
export type DiskSubformat = 'streamOptimized' | 'monolithicSparse' | 'fixed' | 'dynamic';

const SUBFORMATS: Partial<Record<DiskFormat, readonly DiskSubformat[]>> = {
  vmdk: ['streamOptimized', 'monolithicSparse'],
  vhd: ['dynamic', 'fixed'],
};
const MiB = 1024 * 1024;

/** The format an output file name asks for by its extension (.img is raw), if any. */
export function formatOfPath(file: string): DiskFormat | undefined {
  const ext = path.extname(file).slice(1).toLowerCase();
  if (ext === 'img') return 'raw';
  return (DISK_FORMATS as readonly string[]).includes(ext) ? ext as DiskFormat : undefined;
}

export interface FormatChoice { format: DiskFormat; subformat?: DiskSubformat }

/**
 * --format, else the -o extension, else disk.format, else raw; the subformat from --subformat or
 * disk.subformat, checked against the format. A conflict is an error, not a guess.
 */
export function chooseFormat(recipePath: string, recipe: Recipe, opts: { format?: string; output?: string; subformat?: string; sizeBytes: number }): FormatChoice {
  const byExt = opts.output ? formatOfPath(opts.output) : undefined;
  if (opts.format !== undefined && !(DISK_FORMATS as readonly string[]).includes(opts.format)) {
    throw new UsageError(`image: --format ${opts.format}: expected one of ${DISK_FORMATS.join(', ')}`);
  }
  if (opts.format && byExt && byExt !== opts.format) {
    throw new UsageError(`image: --format ${opts.format} but -o ${path.basename(opts.output!)} names ${byExt}`);
  }
  const format = (opts.format ?? byExt ?? recipe.disk?.format ?? 'raw') as DiskFormat;
  const sub = (opts.subformat ?? recipe.disk?.subformat) as DiskSubformat | undefined;
  const field = opts.subformat !== undefined ? '--subformat' : 'disk.subformat';
  const allowed = SUBFORMATS[format];
  if (sub !== undefined && !allowed?.includes(sub)) {
    const msg = allowed ? `${sub} is not a ${format} subformat: ${allowed.join(' or ')}` : `${sub}: the ${format} format has no subformats`;
    if (opts.subformat !== undefined) throw new UsageError(`image: ${field} ${msg}`);
    throw new RecipeError(recipePath, field, msg);
  }
  const subformat = sub ?? allowed?.[0];
  if (format === 'vhd' && subformat === 'fixed' && opts.sizeBytes % MiB !== 0) {
    throw new RecipeError(recipePath, 'disk.size', `a fixed VHD must be a whole number of MiB (Azure refuses others); ${opts.sizeBytes} bytes is not`);
  }
  return { format, subformat };
}

/** The OVF's virtual machine from the recipe's `vm:` (defaults: 1 CPU, 256 MiB, e1000 on NAT, IDE). */
export function ovfVm(recipe: Recipe): OvfVm {
  const vm = recipe.vm ?? {};
  return {
    name: recipe.name,
    arch: recipe.arch,
    osDescription: `Tiny Core Linux ${recipe.release} (${recipe.arch})`,
    cpus: vm.cpus ?? 1,
    memoryMiB: vm.memory ?? 256,
    nic: vm.nic ?? 'e1000',
    controller: vm.controller ?? 'ide',
    firmware: vm.firmware ?? 'bios',
    serial: (recipe.bootcodes ?? []).some((c) => /^console=ttyS\d/.test(c)),
    product: { name: recipe.name, version: vm.version, vendor: vm.vendor, description: vm.description },
  };
}

/** The OVA's disk member, also its intermediate file in the build folder. */
export const ovaDiskName = (recipe: Pick<Recipe, 'name'>): string => `${recipe.name}-disk1.vmdk`;

async function writeStream(gen: AsyncIterable<Uint8Array>, file: string, hash?: ReturnType<typeof createHash>): Promise<void> {
  async function* tap(): AsyncGenerator<Uint8Array> {
    for await (const c of gen) {
      hash?.update(c);
      yield c;
    }
  }
  await pipeline(Readable.from(tap()), createWriteStream(file));
}

/** Writes the raw disk `raw` to `output` in `choice`'s format; `work` holds the OVA's intermediate VMDK. */
export async function writeDiskFormat(raw: string, output: string, choice: FormatChoice, o: { recipe: Recipe; epoch: number; work: string; log?: Logger }): Promise<void> {
  const tmp = `${output}.tmp-${process.pid}`;
  const src = lazyFileSource(raw, (await stat(raw)).size);
  const vmdkName = ovaDiskName(o.recipe);
  const vmdkTmp = path.join(o.work, vmdkName);
  try {
    switch (choice.format) {
      case 'raw': await copyFile(raw, tmp); break;
      case 'qcow2': await runTool('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', raw, tmp], { log: o.log }); break;
      case 'vmdk': await writeStream(writeVmdk(src, { subformat: choice.subformat as 'streamOptimized' | 'monolithicSparse', fileName: path.basename(output), ...parallelGrainDeflate() }), tmp); break;
      case 'vhd': await writeStream(writeVhd(src, { type: choice.subformat as 'fixed' | 'dynamic', epoch: o.epoch }), tmp); break;
      case 'vhdx': await writeStream(writeVhdx(src), tmp); break;
      case 'ova': {
        const scan = await scanDisk(src);
        const vmdkHash = createHash('sha256');
        await writeStream(writeVmdk(src, { subformat: 'streamOptimized', fileName: vmdkName, scan, ...parallelGrainDeflate() }), vmdkTmp, vmdkHash);
        let populated = 0;
        for (let u = 0; u < scan.present.length; u++) if (scan.present[u]) populated += Math.min(scan.unit, src.size - u * scan.unit);
        const ovf = Buffer.from(ovfEnvelope(ovfVm(o.recipe), {
          href: vmdkName, fileSize: (await stat(vmdkTmp)).size, capacity: src.size, populatedSize: populated,
        }));
        const ovfName = `${o.recipe.name}.ovf`;
        const mf = Buffer.from(ovaManifest([
          { name: ovfName, sha256: createHash('sha256').update(ovf).digest('hex') },
          { name: vmdkName, sha256: vmdkHash.digest('hex') },
        ]));
        const inMemory = (name: string, bytes: Buffer): OvaMember => ({ name, size: bytes.length, open: async function* () { yield bytes; } });
        await writeStream(writeOva([
          inMemory(ovfName, ovf),
          inMemory(`${o.recipe.name}.mf`, mf),
          { name: vmdkName, size: (await stat(vmdkTmp)).size, open: () => createReadStream(vmdkTmp) },
        ], o.epoch), tmp);
        break;
      }
    }
    await rename(tmp, output);
  } catch (err) {
    await rm(tmp, { force: true }); // never leave a half-written disk beside the output
    throw err;
  } finally {
    await rm(vmdkTmp, { force: true });
  }
}
