/**
 * Host-side disk assembly, no root and no loop devices: a sparse file, an MBR written by dbco, an ext
 * filesystem made by mke2fs straight into the partition's byte range (-E offset) from a staging folder
 * (-d), then GRUB's boot.img/core.img patched into the MBR and the gap before the partition.
 */
import { chmod, chown, mkdir, open, rm, utimes, writeFile, copyFile, readdir, lstat } from 'node:fs/promises';
import path from 'node:path';
import { FormatError } from '../../errors.js';
import { buildMbr, SECTOR } from '../../formats/disk/mbr.js';
import { patchBootImg, patchCoreImg } from '../../formats/disk/grub-embed.js';
import type { Logger } from '../../io/logger.js';
import { buildCoreImg, grubConfig, readBootImg, stageGrubDir } from './grub.js';
import { diskIds } from './ids.js';
import { normalizeExtPartition } from './ext-normalize.js';
import { runTool } from './tools.js';

export const PART_START_SECTOR = 2048;
export const PART_OFFSET = PART_START_SECTOR * SECTOR;
/** TC's default user and its group (tc:staff): tce-setup chowns the tce dir to them at every boot. */
const TC_UID = 1001;
const STAFF_GID = 50;

export interface BootFile {
  /** File name under /boot. */
  name: string;
  /** Writes the file's bytes to `dest`. */
  write(dest: string): Promise<void>;
}

export interface DiskLayoutInput {
  title: string;
  /** Hex digest the disk's identifiers derive from (recipe + lock). */
  digest: string;
  epoch: number;
  sizeBytes: number;
  filesystem: 'ext2' | 'ext3' | 'ext4';
  label: string;
  kernel: BootFile;
  /** Loaded by GRUB in this order (Linux unpacks concatenated initramfs images over each other). */
  initrds: BootFile[];
  bootcodes: string[];
  /** frugal layout: extensions for /tce/optional, and the onboot.lst order. */
  optional?: { name: string; path: string }[];
  onboot?: string[];
}

export interface AssembledDisk {
  path: string;
  fsUuid: string;
  partOffset: number;
  cmdline: string;
  grubCfg: string;
}

export function parseSize(s: string): number {
  const m = /^(\d+)([KMG]?)$/.exec(s);
  if (!m) throw new FormatError('disk', `bad size ${JSON.stringify(s)}`);
  const mult = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[m[2] as '' | 'K' | 'M' | 'G'];
  return Number(m[1]) * mult;
}

export function kernelCmdline(input: Pick<DiskLayoutInput, 'bootcodes'>, fsUuid: string): string {
  // tc-config/tce-setup/tc-restore resolve UUID= through blkid; restore= takes DEVICE/dir like filetool.sh.
  return ['quiet', ...input.bootcodes, `tce=UUID=${fsUuid}`, `restore=UUID=${fsUuid}/tce`].join(' ');
}

/** Every staged path gets the epoch as mtime; owners and modes are set explicitly, never inherited. */
async function stampTree(root: string, epoch: number): Promise<void> {
  const st = await lstat(root);
  if (st.isDirectory()) for (const n of await readdir(root)) await stampTree(path.join(root, n), epoch);
  if (!st.isSymbolicLink()) await utimes(root, epoch, epoch);
}

async function chownTree(root: string, uid: number, gid: number, groupWrite: boolean): Promise<void> {
  const st = await lstat(root);
  await chown(root, uid, gid);
  if (groupWrite) await chmod(root, (st.mode & 0o7777) | 0o020);
  if (st.isDirectory()) for (const n of await readdir(root)) await chownTree(path.join(root, n), uid, gid, groupWrite);
}

async function stage(input: DiskLayoutInput, staging: string, work: string, fsUuid: string, log?: Logger): Promise<{ cmdline: string; grubCfg: string; coreImg: Uint8Array; bootImg: Uint8Array }> {
  const boot = path.join(staging, 'boot');
  const grubDir = path.join(boot, 'grub');
  await mkdir(grubDir, { recursive: true, mode: 0o755 });
  await input.kernel.write(path.join(boot, input.kernel.name));
  for (const f of input.initrds) await f.write(path.join(boot, f.name));
  const cmdline = kernelCmdline(input, fsUuid);
  const grubCfg = grubConfig(fsUuid, {
    title: input.title,
    kernel: `/boot/${input.kernel.name}`,
    initrds: input.initrds.map((f) => `/boot/${f.name}`),
    cmdline,
  });
  await writeFile(path.join(grubDir, 'grub.cfg'), grubCfg);
  const coreImg = await buildCoreImg(work, fsUuid, log);
  const bootImg = await readBootImg();
  await stageGrubDir(grubDir, coreImg, bootImg);

  // The tce dir as tce-setup leaves it (optional/, ondemand/, onboot.lst, owned tc:staff, group-writable),
  // so the first boot has nothing to create.
  const tce = path.join(staging, 'tce');
  await mkdir(path.join(tce, 'optional'), { recursive: true });
  await mkdir(path.join(tce, 'ondemand'), { recursive: true });
  for (const t of input.optional ?? []) await copyFile(t.path, path.join(tce, 'optional', t.name));
  await writeFile(path.join(tce, 'onboot.lst'), (input.onboot ?? []).map((n) => `${n}\n`).join(''));
  await chownTree(tce, TC_UID, STAFF_GID, true);
  await stampTree(staging, input.epoch);
  return { cmdline, grubCfg, coreImg, bootImg };
}

/** What the filesystem is made from besides the tree: the recipe's disk fields and the ids' digest. */
export type FilesystemInput = Pick<DiskLayoutInput, 'digest' | 'epoch' | 'sizeBytes' | 'filesystem' | 'label'>;

/** mke2fs options that make the filesystem a function of the staging tree and the ids alone. */
function mke2fsArgs(input: FilesystemInput, ids: ReturnType<typeof diskIds>, staging: string, image: string, fsBytes: number): string[] {
  const features = ['^metadata_csum'];
  // No 64bit: a small disk does not need it, and the kernel would otherwise flag the journal 64-bit at
  // the first mount, a change normalization would have to undo.
  if (input.filesystem === 'ext4') features.push('^metadata_csum_seed', '^orphan_file', '^64bit');
  return [
    '-q', '-F', '-t', input.filesystem, '-b', '4096', '-I', '256', '-L', input.label, '-U', ids.fsUuid,
    '-O', features.join(','),
    '-E', `offset=${PART_OFFSET},root_owner=0:0,hash_seed=${ids.hashSeed},nodiscard,lazy_itable_init=0,lazy_journal_init=0`,
    '-d', staging, image, `${Math.floor(fsBytes / 1024)}k`,
  ];
}

function partitionGeometry(sizeBytes: number): { totalSectors: number; partSectors: number; fsBytes: number } {
  const totalSectors = Math.floor(sizeBytes / SECTOR);
  const partSectors = totalSectors - PART_START_SECTOR;
  if (partSectors * SECTOR < 8 * 1024 * 1024) throw new FormatError('disk', `disk.size ${sizeBytes} bytes is too small (at least 9M)`);
  return { totalSectors, partSectors, fsBytes: Math.floor((partSectors * SECTOR) / 4096) * 4096 };
}

/**
 * A fresh sparse disk file at `outPath` whose partition holds the filesystem mke2fs makes from
 * `staging`, normalized; the sectors before the partition are left zero for the caller.
 */
export async function makeFilesystem(input: FilesystemInput, staging: string, outPath: string, log?: Logger): Promise<void> {
  const ids = diskIds(input.digest);
  const { totalSectors, fsBytes } = partitionGeometry(input.sizeBytes);
  const fh = await open(outPath, 'w');
  await fh.truncate(totalSectors * SECTOR);
  await fh.close();
  await runTool('mke2fs', mke2fsArgs(input, ids, staging, outPath, fsBytes), {
    env: { ...process.env, E2FSPROGS_FAKE_TIME: String(input.epoch), MKE2FS_CONFIG: '/etc/mke2fs.conf' },
    log,
  });
  await normalizeExtPartition(outPath, PART_OFFSET, input.epoch);
}

export async function assembleDisk(input: DiskLayoutInput, outPath: string, work: string, log?: Logger): Promise<AssembledDisk> {
  const ids = diskIds(input.digest);
  const { partSectors } = partitionGeometry(input.sizeBytes);

  const staging = path.join(work, 'staging');
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  const staged = await stage(input, staging, work, ids.fsUuid, log);
  await makeFilesystem(input, staging, outPath, log);

  const gapSectors = PART_START_SECTOR - 1;
  const core = patchCoreImg(staged.coreImg, 1);
  if (core.length / SECTOR > gapSectors) throw new FormatError('disk', `core.img needs ${core.length / SECTOR} sectors, the gap has ${gapSectors}`);
  const mbr = buildMbr(ids.diskSignature, [{ start: PART_START_SECTOR, sectors: partSectors, type: 0x83, bootable: true }]);
  const bootSector = patchBootImg(staged.bootImg, mbr, 1);
  const w = await open(outPath, 'r+');
  try {
    await w.write(bootSector, 0, SECTOR, 0);
    await w.write(core, 0, core.length, SECTOR);
  } finally {
    await w.close();
  }
  await rm(staging, { recursive: true, force: true });
  return { path: outPath, fsUuid: ids.fsUuid, partOffset: PART_OFFSET, cmdline: staged.cmdline, grubCfg: staged.grubCfg };
}
