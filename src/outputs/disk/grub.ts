/**
 * GRUB for BIOS, laid out as grub-install would but without touching any device: core.img comes from
 * grub-mkimage, and the MBR/gap patching is pure code (src/formats/disk/grub-embed.ts).
 */
import { copyFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ToolError } from '../../errors.js';
import type { Logger } from '../../io/logger.js';
import { runTool } from './tools.js';

export const GRUB_PC_DIR = process.env.DBCO_GRUB_PC_DIR ?? '/usr/lib/grub/i386-pc';

/** Modules built into core.img: enough to find the partition by UUID, read grub.cfg and boot Linux. */
const CORE_MODULES = [
  'biosdisk', 'part_msdos', 'ext2', 'search_fs_uuid', 'search', 'normal', 'configfile',
  'linux', 'boot', 'serial', 'terminal', 'echo', 'test',
];

export interface GrubEntry {
  title: string;
  kernel: string;
  initrds: string[];
  cmdline: string;
}

/** grub.cfg: the serial console as well as the screen, no menu delay, one entry. */
export function grubConfig(fsUuid: string, entry: GrubEntry): string {
  return [
    'serial --unit=0 --speed=115200',
    'terminal_input serial console',
    'terminal_output serial console',
    'set timeout=0',
    'set default=0',
    `search --no-floppy --fs-uuid --set=root ${fsUuid}`,
    `menuentry '${entry.title.replace(/'/g, '')}' {`,
    `\tlinux ${entry.kernel} ${entry.cmdline}`,
    `\tinitrd ${entry.initrds.join(' ')}`,
    '}',
    '',
  ].join('\n');
}

/**
 * Builds core.img in `work` with an embedded early config that finds the partition by filesystem UUID
 * (so the disk boots whatever BIOS drive number it gets) and points $prefix at /boot/grub there.
 */
export async function buildCoreImg(work: string, fsUuid: string, log?: Logger): Promise<Uint8Array> {
  const early = path.join(work, 'grub-early.cfg');
  // The serial console comes first so that even a failed search is visible on a headless boot.
  await writeFile(early, [
    'serial --unit=0 --speed=115200',
    'terminal_input serial console',
    'terminal_output serial console',
    `search --no-floppy --fs-uuid --set=root ${fsUuid}`,
    'set prefix=($root)/boot/grub',
    '',
  ].join('\n'));
  const out = path.join(work, 'core.img');
  await runTool('grub-mkimage', [
    '-O', 'i386-pc', '-d', GRUB_PC_DIR, '-c', early, '-p', '/boot/grub', '-o', out, ...CORE_MODULES,
  ], { log });
  return new Uint8Array(await readFile(out));
}

export async function readBootImg(): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path.join(GRUB_PC_DIR, 'boot.img')));
  } catch (err) {
    throw new ToolError('grub-pc-bin', `${GRUB_PC_DIR}/boot.img missing: apt-get install grub-pc-bin`, { cause: err });
  }
}

/** /boot/grub/i386-pc as grub-install fills it: every module and list, plus the images it installed. */
export async function stageGrubDir(bootGrub: string, coreImg: Uint8Array, bootImg: Uint8Array): Promise<void> {
  const dest = path.join(bootGrub, 'i386-pc');
  await mkdir(dest, { recursive: true });
  const names = (await readdir(GRUB_PC_DIR)).filter((n) => n.endsWith('.mod') || n.endsWith('.lst')).sort();
  for (const n of names) await copyFile(path.join(GRUB_PC_DIR, n), path.join(dest, n));
  await writeFile(path.join(dest, 'core.img'), coreImg);
  await writeFile(path.join(dest, 'boot.img'), bootImg);
}
