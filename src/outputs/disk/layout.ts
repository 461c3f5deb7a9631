/**
 * What goes into /boot and /tce for each disk.layout, from the ONE rootfs model (assembleRootfs's
 * layers plus the disk hooks layer, flattened):
 *  - initramfs: everything in one initramfs;
 *  - frugal: the base initramfs as fetched, a small config initramfs (the config and hooks layers, with
 *    their parent directories as the full tree has them), and the tczs in /tce/optional + onboot.lst
 *    for TC to load at boot (needs a kernel that can mount squashfs).
 */
import { createWriteStream } from 'node:fs';
import { copyFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import path from 'node:path';
import type { Entry } from '../../formats/entry.js';
import type { PreparedInputs } from '../../resolve/prepared.js';
import { flattenLayers } from '../../rootfs/flatten.js';
import { writeInitramfs } from '../../rootfs/initramfs.js';
import type { Layer } from '../../rootfs/layer.js';
import type { BootFile } from './assemble.js';

export const INITRAMFS_NAME = 'dbco.gz';
export const CONFIG_INITRAMFS_NAME = 'dbco-config.gz';

function initramfsFile(name: string, entries: Entry[]): BootFile {
  return { name, write: (dest) => pipeline(Readable.from(writeInitramfs(entries)), createWriteStream(dest)) };
}

export interface LayoutResult {
  initrds: BootFile[];
  optional: { name: string; path: string }[];
  onboot: string[];
}

export function initramfsLayout(layers: readonly Layer[]): LayoutResult {
  return { initrds: [initramfsFile(INITRAMFS_NAME, flattenLayers(layers))], optional: [], onboot: [] };
}

/** Paths tce-load writes when it loads an extension: at boot it must find them absent, or it skips the tcz. */
function loadTimePath(p: string, extNames: Set<string>): boolean {
  if (p === 'tmp/setup.lst' || p === 'etc/sysconfig/newmodules') return true;
  const m = /^usr\/local\/tce\.installed\/(.+)$/.exec(p);
  return m !== null && extNames.has(m[1]!);
}

export function frugalLayout(inputs: PreparedInputs, layers: readonly Layer[]): LayoutResult {
  const full = flattenLayers(layers);
  const extNames = new Set(inputs.extensions.map((e) => e.name.replace(/\.tcz$/, '')));
  const wanted = new Set<string>();
  for (const l of layers) {
    if (l.id !== 'config' && l.id !== 'disk-hooks') continue;
    for (const e of l.entries) {
      if (loadTimePath(e.path, extNames)) continue;
      const parts = e.path.split('/');
      for (let i = 1; i <= parts.length; i++) wanted.add(parts.slice(0, i).join('/'));
    }
  }
  const configEntries = full.filter((e) => wanted.has(e.path));
  const baseName = path.basename(inputs.base.origin.split('!').pop() ?? 'core.gz') || 'core.gz';
  const base: BootFile = { name: baseName, write: (dest) => copyFile(inputs.base.path, dest) };
  return {
    initrds: [base, initramfsFile(CONFIG_INITRAMFS_NAME, configEntries)],
    optional: inputs.extensions.map((e) => ({ name: e.name, path: e.file.path })),
    onboot: inputs.extensions.map((e) => e.name),
  };
}
