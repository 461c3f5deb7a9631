/**
 * After the Packer boot: the guest's writes are laid out by a running kernel, whose choices depend on
 * timing (delayed allocation flushes, the writer's PID colouring the goal block in ext2/ext3) and on
 * random numbers (inode generations). Measured: two builds of one recipe whose steps create, change and
 * delete files differ in the block bitmap, inode table and the blocks the files landed in. No in-place
 * fix can undo another allocation, so the filesystem is made again from its own tree: debugfs reads it
 * out (no mount), mke2fs -d writes it with the same UUID, hash seed and options as the first time, and
 * the normalization runs. The same tree gives the same bytes; a boot that wrote nothing gives the disk
 * it booted. The sectors before the partition (MBR, GRUB) are copied over unchanged.
 */
import { chmod, chown, lchown, link, mkdir, open, rename, rm, rmdir, unlink } from 'node:fs/promises';
import path from 'node:path';
import { ToolError } from '../../errors.js';
import type { Logger } from '../../io/logger.js';
import type { SpecialInode } from '../../formats/disk/ext.js';
import { makeFilesystem, PART_OFFSET, type FilesystemInput } from './assemble.js';
import { scanSpecialInodes } from './ext-normalize.js';
import { runTool } from './tools.js';

/** Paths of each inode, from debugfs ncheck (every name of a hard-linked inode). */
async function inodePaths(device: string, inos: number[]): Promise<Map<number, string[]>> {
  const out = new Map<number, string[]>();
  if (inos.length === 0) return out;
  const res = await runTool('debugfs', ['-R', `ncheck -c ${[...new Set(inos)].join(' ')}`, device]);
  for (const line of res.stdout.split('\n')) {
    const m = /^(\d+)\t(\/.*)$/.exec(line);
    if (!m) continue;
    const ino = Number(m[1]);
    out.set(ino, [...(out.get(ino) ?? []), m[2]!]);
  }
  for (const paths of out.values()) paths.sort();
  return out;
}

/** Gives back to the dumped tree what rdump cannot: hard links, device nodes and fifos, setuid bits, symlink owners. */
async function restoreSpecials(staging: string, device: string, specials: SpecialInode[]): Promise<void> {
  const paths = await inodePaths(device, specials.map((s) => s.ino));
  const at = (p: string): string => path.join(staging, p);
  for (const s of specials) {
    const names = paths.get(s.ino) ?? [];
    if (s.kind === 'hardlink') {
      for (const other of names.slice(1)) {
        await unlink(at(other)).catch(() => undefined);
        await link(at(names[0]!), at(other));
      }
    } else if (s.kind === 'char' || s.kind === 'block' || s.kind === 'fifo') {
      for (const p of names) {
        await rm(at(p), { force: true });
        const args = s.kind === 'fifo' ? [at(p), 'p'] : [at(p), s.kind === 'char' ? 'c' : 'b', String(s.major), String(s.minor)];
        await runTool('mknod', args);
        await chown(at(p), s.uid, s.gid);
        await chmod(at(p), s.mode & 0o7777);
      }
    } else if (s.kind === 'setid') {
      for (const p of names) await chmod(at(p), s.mode & 0o7777);
    } else if (s.kind === 'symlink') {
      for (const p of names) await lchown(at(p), s.uid, s.gid);
    }
  }
}

/**
 * Makes the partition of `disk` again from its own tree. Returns false, changing nothing, when the
 * tree holds what a folder cannot carry here (extended attributes, sockets): the caller then keeps the
 * in-place normalization only.
 */
export async function relayoutPartition(disk: string, input: FilesystemInput, work: string, log?: Logger): Promise<{ relaid: boolean; reason?: string }> {
  const specials = await scanSpecialInodes(disk, PART_OFFSET);
  const blocker = specials.find((s) => s.kind === 'xattr' || s.kind === 'socket');
  if (blocker) return { relaid: false, reason: `inode ${blocker.ino} has ${blocker.kind === 'xattr' ? 'extended attributes' : 'a socket'}` };
  const device = `${disk}?offset=${PART_OFFSET}`;
  const staging = path.join(work, 'relayout');
  const fresh = `${disk}.relayout`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging);
  try {
    const dump = await runTool('debugfs', ['-R', `rdump / ${staging}`, device]);
    const problems = dump.stderr.split('\n').filter((l) => l.trim() && !/^debugfs \d/.test(l));
    if (problems.length > 0) throw new ToolError('debugfs', `reading the guest's filesystem back: ${problems.slice(0, 3).join(' | ')}`);
    await restoreSpecials(staging, device, specials.filter((s) => s.kind !== 'xattr' && s.kind !== 'socket'));
    // mke2fs makes lost+found itself; an empty dumped one adds nothing (one with files stays).
    await rmdir(path.join(staging, 'lost+found')).catch(() => undefined);
    await makeFilesystem(input, staging, fresh, log);
    const head = Buffer.alloc(PART_OFFSET);
    const src = await open(disk, 'r');
    try { await src.read(head, 0, PART_OFFSET, 0); } finally { await src.close(); }
    const dst = await open(fresh, 'r+');
    try { await dst.write(head, 0, PART_OFFSET, 0); } finally { await dst.close(); }
    await rename(fresh, disk);
    return { relaid: true };
  } finally {
    await rm(staging, { recursive: true, force: true });
    await rm(fresh, { force: true });
  }
}
