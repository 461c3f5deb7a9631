import { z } from 'zod';
import { IMAGE_REFERENCE, imageReferenceProblem, NAME_MAX } from './image-ref.js';
import { RELEASE_OR_LATEST } from './release.js';

/**
 * The recipe, version 1. This one definition drives both validation (load.ts) and the published JSON
 * Schema (recipes/schema.json, written by `dbco schema`), so the two cannot drift.
 */
const octalMode = z.string().regex(/^0?[0-7]{3,4}$/, 'an octal mode such as "0644"');
/** Linux ids are 32 bits and (uid_t)-1 means "no change": 0..2^32-2 is what a file can carry. */
export const MAX_ID = 2 ** 32 - 2;
const owner = z.string().regex(/^\d+:\d+$/, { message: 'numeric "uid:gid" such as "0:0"', abort: true })
  .refine((v) => v.split(':').every((n) => Number(n) <= MAX_ID), { message: `uid and gid must each be within 0..${MAX_ID}` });
/** An MBR partition table addresses at most 2^32 sectors of 512 bytes: 2 TiB. */
export const MAX_DISK_BYTES = 2 ** 41;
export const MIN_DISK_BYTES = 2 ** 20;
const sizeUnits = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30 } as const;
export function sizeBytes(s: string): number {
  const m = /^(\d+)([KMG]?)$/.exec(s);
  return m ? Number(m[1]) * sizeUnits[m[2] as keyof typeof sizeUnits] : NaN;
}
const size = z.string().regex(/^\d+[KMG]?$/, { message: 'a size such as 64M', abort: true })
  .refine((v) => sizeBytes(v) >= MIN_DISK_BYTES && sizeBytes(v) <= MAX_DISK_BYTES, { message: 'a disk size within 1M..2048G (an MBR disk holds at most 2 TiB)' });
const imageTag = z.string().min(1)
  .regex(IMAGE_REFERENCE, { message: 'a Docker image reference such as "name:tag" or "registry:5000/team/name:1.0"', abort: true })
  .refine((v) => imageReferenceProblem(v) === null, { message: `a Docker image reference with a name of at most ${NAME_MAX} characters` });

export const FileSpec = z.strictObject({
  src: z.string().min(1).optional().describe('host path, relative to the recipe file'),
  content: z.string().optional().describe('inline file content, instead of src'),
  dest: z.string().regex(/^\//, 'an absolute path in the image').describe('absolute path in the image'),
  mode: octalMode.optional(),
  owner: owner.optional(),
});

export const ImageSpec = z.strictObject({
  tag: imageTag.optional(),
  cmd: z.array(z.string()).optional(),
  entrypoint: z.array(z.string()).optional(),
  env: z.record(z.string(), z.string()).optional(),
  user: z.string().optional(),
  workdir: z.string().optional(),
  labels: z.record(z.string(), z.string()).optional(),
  /** When extension setup scripts run: at build in a container, at container start, or never. */
  setup: z.enum(['build', 'boot', 'none']).optional().describe('default: build for x86_64, boot for x86 (an x86_64 host need not run i386 binaries)'),
  /** Most layers the image may have; past it the smallest extensions share layers. */
  max_layers: z.number().int().min(3).max(127).optional(),
});

export const DiskSpec = z.strictObject({
  size: size.optional(),
  filesystem: z.enum(['ext2', 'ext3', 'ext4']).optional(),
  /** initramfs: one initramfs holding everything; frugal: base + config initramfs, tczs in /tce/optional. */
  layout: z.enum(['initramfs', 'frugal']).optional(),
  label: z.string().max(16).optional(),
  format: z.enum(['raw', 'qcow2', 'vmdk', 'vhd', 'vhdx', 'ova']).optional().describe('disk file format (default: from the -o extension, else raw)'),
  subformat: z.enum(['streamOptimized', 'monolithicSparse', 'fixed', 'dynamic']).optional()
    .describe('vmdk: streamOptimized (default) or monolithicSparse; vhd: dynamic (default) or fixed (Azure)'),
});

/** The virtual machine an OVA describes (and the Packer stage's memory). */
export const VmSpec = z.strictObject({
  cpus: z.number().int().min(1).max(64).optional().describe('virtual CPUs (default 1)'),
  memory: z.number().int().min(16).max(1048576).optional().describe('memory in MiB (default 256)'),
  nic: z.enum(['e1000', 'pcnet32', 'vmxnet3', 'none']).optional().describe('network adapter on the NAT network (default e1000)'),
  controller: z.enum(['ide', 'sata']).optional().describe('disk controller (default ide)'),
  firmware: z.enum(['bios']).optional().describe('the disk boots through GRUB for BIOS'),
  version: z.string().min(1).optional().describe('product version in the OVF ProductSection'),
  vendor: z.string().min(1).optional().describe('product vendor in the OVF ProductSection'),
  description: z.string().min(1).optional().describe('description (OVF AnnotationSection)'),
});

function compiles(re: string): boolean {
  try {
    new RegExp(re);
    return true;
  } catch {
    return false;
  }
}

/** One command `dbco test` runs in the built image or disk, with what it must print and return. */
export const CheckSpec = z.strictObject({
  name: z.string().min(1).optional().describe('label in the result table (default: the command)'),
  run: z.string().min(1).describe('shell command, run with sh -c (as root in the disk\'s guest)'),
  stdout: z.string().optional().describe('the exact standard output expected (a final newline is ignored)'),
  stdout_matches: z.string().refine(compiles, 'a valid regular expression').optional().describe('a regular expression (JavaScript syntax) the standard output must match'),
  exit: z.number().int().min(0).max(255).optional().describe('expected exit status (default 0)'),
});

export const IsoBase = z.strictObject({
  iso: z.string().min(1).describe('path or URL of a TC ISO'),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, '64 lowercase hex digits'),
  initramfs: z.string().optional().describe('initramfs file inside the ISO, e.g. core.gz (default: the only *.gz in /boot)'),
  kernel: z.string().optional().describe('kernel file inside the ISO, e.g. vmlinuz'),
});

/** A local base initramfs (path relative to the recipe), for a fixture or a self-built core. */
export const FileBase = z.strictObject({
  file: z.string().min(1).describe('host path of a gzip\'d cpio initramfs, relative to the recipe file'),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, '64 lowercase hex digits').optional(),
});

/** TC's two architectures; a multi-arch recipe lists both. */
export const ArchName = z.enum(['x86', 'x86_64']);
const distFile = z.string().regex(/^[\w.+-]+$/, 'a file in release/distribution_files such as rootfs64.gz');
const kernelFile = z.string().regex(/^[\w.+-]+$/, 'a file in release/distribution_files such as vmlinuz64');
const BaseOne = z.union([distFile, IsoBase, FileBase]);
/** One value per arch, for a recipe whose `arch` is a list; an arch left out takes TC's default. */
const perArch = <T extends z.ZodType>(value: T) => z.strictObject({ x86: value.optional(), x86_64: value.optional() });

export const Recipe = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9_.-]*$/, { message: 'lowercase letters, digits, ".", "_" or "-"', abort: true })
    .refine((v) => imageReferenceProblem(`${v}:latest`) === null, { message: 'the default image name: letters or digits on both sides of each ".", "_" or "-", at most 255 characters' }).describe('image name (also the default tag)'),
  release: z.string().regex(RELEASE_OR_LATEST, 'a TC release such as "6.4.1", or latest')
    .describe('TC release, quoted; its major picks the mirror folder {major}.x. latest: the release the mirror names in latest-x86 / latest-x86_64 (recorded in the lock)'),
  arch: z.union([ArchName, z.array(ArchName).min(1).refine((a) => new Set(a).size === a.length, 'each arch once')])
    .describe('x86 or x86_64, or a list of both for a multi-arch image (one image per arch in one OCI index)'),
  mirror: z.string().min(1).optional().describe('TC mirror URL or folder; --mirror and DBCO_MIRROR take precedence'),
  base: z.union([BaseOne, perArch(BaseOne)]).optional()
    .describe('base initramfs (default: TC\'s core.gz for x86, corepure64.gz for x86_64); a map from arch to base for a multi-arch recipe'),
  kernel: z.union([kernelFile, perArch(kernelFile)]).optional()
    .describe('kernel file in release/distribution_files, e.g. vmlinuz64; a map from arch for a multi-arch recipe (default there: vmlinuz, vmlinuz64)'),
  kernel_version: z.string().regex(/^\S+$/, 'a kernel version without spaces such as 6.1.2-tinycore64').optional().describe('replaces KERNEL in extension names (default: read from the kernel, else the base\'s lib/modules)'),
  extensions: z.array(z.string().regex(/^[\w.+-]+$/, 'an extension name such as openssh or openssh.tcz')).optional().describe('extensions to install; dependencies come from their .dep files, as tce-load does'),
  files: z.array(FileSpec).optional(),
  bootlocal: z.array(z.string()).optional(),
  bootcodes: z.array(z.string().regex(/^\S+$/, 'one boot code without spaces')).optional(),
  persist: z.array(z.string().min(1)).optional(),
  provision: z.array(z.string()).optional().describe('shell steps run in the guest during the Packer boot'),
  image: ImageSpec.optional(),
  checks: z.array(CheckSpec).optional().describe('commands `dbco test` runs in the built image or disk'),
  disk: DiskSpec.optional(),
  vm: VmSpec.optional(),
});

/** The recipe as written: `arch` may be a list, `base` and `kernel` maps from arch. */
export type RecipeDocument = z.infer<typeof Recipe>;
export type Arch = z.infer<typeof ArchName>;
/** One arch of a recipe (src/recipe/arch.ts narrows a document to it): what every build stage reads. */
export type Recipe = Omit<RecipeDocument, 'arch' | 'base' | 'kernel'> & {
  arch: Arch;
  base: string | IsoBase | FileBase;
  kernel?: string;
};
export type FileSpec = z.infer<typeof FileSpec>;
export type ImageSpec = z.infer<typeof ImageSpec>;
export type CheckSpec = z.infer<typeof CheckSpec>;
export type DiskSpec = z.infer<typeof DiskSpec>;
export type VmSpec = z.infer<typeof VmSpec>;
export type IsoBase = z.infer<typeof IsoBase>;
export type FileBase = z.infer<typeof FileBase>;
