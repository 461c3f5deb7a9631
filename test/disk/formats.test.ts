import { describe, expect, test } from 'vitest';
import { readFileSync } from 'node:fs';
import { buildMbr, parseMbr } from '../../src/formats/disk/mbr.js';
import { patchBootImg, patchCoreImg } from '../../src/formats/disk/grub-embed.js';
import { fileBlocks, normalizeInodeTimes, normalizeJournalSuperblock, normalizeSuperblock, parseSuperblock, specialInodes, type ExtInfo } from '../../src/formats/disk/ext.js';
import { provisionDrive, PROVISION_MAGIC, diskHooksLayer, PROVISION_HOOK_PATH } from '../../src/outputs/disk/hooks.js';
import { diskIds } from '../../src/outputs/disk/ids.js';
import { GRUB_PC_DIR } from '../../src/outputs/disk/grub.js';
import { guestReport } from '../../src/outputs/disk/packer.js';
import type { Entry } from '../../src/formats/entry.js';

/** Pure disk-format code: exact bytes at the offsets GRUB, the BIOS and the ext driver read. */
describe('MBR', () => {
  test('one bootable Linux partition: entry bytes, CHS, signature, 0x55AA', () => {
    const mbr = buildMbr(0xdeadbeef, [{ start: 2048, sectors: 129024, type: 0x83, bootable: true }]);
    expect(mbr.length).toBe(512);
    expect(Buffer.from(mbr.subarray(0x1b8, 0x1bc)).toString('hex')).toBe('efbeadde');
    // status, CHS(2048) = h 32 s 33 c 0, type, CHS(131071) = h 40 s 32|0 c 8, LBA, count
    expect(Buffer.from(mbr.subarray(0x1be, 0x1ce)).toString('hex')).toBe('8020210083' + '282008' + '00080000' + '00f80100');
    expect(mbr[0x1fe]).toBe(0x55);
    expect(mbr[0x1ff]).toBe(0xaa);
    expect(parseMbr(mbr).partitions).toEqual([{ start: 2048, sectors: 129024, type: 0x83, bootable: true }]);
  });
  test('refuses more than four partitions and out-of-range ones', () => {
    const p = { start: 1, sectors: 1, type: 0x83, bootable: false };
    expect(() => buildMbr(0, [p, p, p, p, p])).toThrow(/at most 4/);
    expect(() => buildMbr(0, [{ ...p, start: 0 }])).toThrow(/out of MBR range/);
  });
});

describe('GRUB embedding (what grub-bios-setup patches)', () => {
  const bootImg = new Uint8Array(readFileSync(`${GRUB_PC_DIR}/boot.img`));
  const diskboot = new Uint8Array(readFileSync(`${GRUB_PC_DIR}/diskboot.img`));
  test('boot.img: kernel sector, boot drive, drive-check NOPs; keeps BPB, signature and partition table', () => {
    const target = buildMbr(0x01020304, [{ start: 2048, sectors: 4096, type: 0x83, bootable: true }]);
    target.fill(0x77, 0x03, 0x5a);
    const out = patchBootImg(bootImg, target, 1);
    const v = new DataView(out.buffer);
    expect(v.getBigUint64(0x5c, true)).toBe(1n);
    expect(out[0x64]).toBe(0xff);
    expect([out[0x66], out[0x67]]).toEqual([0x90, 0x90]);
    expect(Buffer.from(out.subarray(0x03, 0x5a)).every((b) => b === 0x77)).toBe(true);
    expect(Buffer.from(out.subarray(0x1b8, 0x200)).equals(Buffer.from(target.subarray(0x1b8, 0x200)))).toBe(true);
    expect(Buffer.from(out.subarray(0x68, 0x1b8)).equals(Buffer.from(bootImg.subarray(0x68, 0x1b8)))).toBe(true);
  });
  test('core.img: first blocklist entry = the rest of core.img after its first sector', () => {
    const core = new Uint8Array(512 * 10 + 100);
    core.set(diskboot);
    const out = patchCoreImg(core, 1);
    expect(out.length).toBe(512 * 11);
    const v = new DataView(out.buffer);
    expect(v.getBigUint64(0x1f4, true)).toBe(2n);
    expect(v.getUint16(0x1fc, true)).toBe(10);
    expect(v.getUint16(0x1fe, true)).toBe(0x820);
    expect(v.getUint16(0x1f0, true)).toBe(0); // the entry below stays the terminator
  });
  test('refuses images that are not GRUB 2 boot.img / diskboot.img', () => {
    expect(() => patchBootImg(new Uint8Array(512), new Uint8Array(512), 1)).toThrow(/drive-check/);
    expect(() => patchCoreImg(new Uint8Array(2048), 1)).toThrow(/blocklist segment/);
  });
});

describe('ext normalization', () => {
  function superblock(): Uint8Array {
    const sb = new Uint8Array(1024);
    const v = new DataView(sb.buffer);
    v.setUint32(0x00, 1024, true); v.setUint32(0x04, 16384, true); v.setUint32(0x14, 0, true);
    v.setUint32(0x18, 2, true); v.setUint32(0x20, 32768, true); v.setUint32(0x28, 1024, true);
    v.setUint16(0x38, 0xef53, true); v.setUint32(0x4c, 1, true); v.setUint16(0x58, 256, true);
    return sb;
  }
  test('a mounted superblock goes back to the never-mounted state', () => {
    const sb = superblock();
    const v = new DataView(sb.buffer);
    v.setUint32(0x2c, 1234, true); v.setUint16(0x34, 3, true); v.setUint16(0x3a, 0, true);
    Buffer.from('/mnt/sda1').copy(Buffer.from(sb.buffer), 0x88);
    expect(normalizeSuperblock(sb, 42)).toBe(true);
    expect(v.getUint32(0x2c, true)).toBe(0);
    expect(v.getUint32(0x30, true)).toBe(42);
    expect(v.getUint16(0x34, true)).toBe(0);
    expect(v.getUint16(0x3a, true)).toBe(1);
    expect(sb.subarray(0x88, 0xc8).every((b) => b === 0)).toBe(true);
    expect(normalizeSuperblock(sb, 42)).toBe(false);
    expect(parseSuperblock(sb)).toMatchObject({ blockSize: 4096, inodeSize: 256, groupCount: 1 });
  });
  test('refuses a bad magic and metadata_csum', () => {
    expect(() => parseSuperblock(new Uint8Array(1024))).toThrow(/magic/);
    const sb = superblock();
    new DataView(sb.buffer).setUint32(0x64, 0x400, true);
    expect(() => normalizeSuperblock(sb, 0)).toThrow(/metadata_csum/);
  });
  test('inode times of written inodes only', () => {
    const t = new Uint8Array(512);
    const v = new DataView(t.buffer);
    v.setUint16(0x1a, 1, true); v.setUint32(0x08, 99, true); v.setUint16(0x80, 32, true); v.setUint32(0x8c, 5, true);
    v.setUint32(256 + 0x0c, 77, true); // no links but written (reserved/deleted): normalized too
    expect(normalizeInodeTimes(t, 256, 7)).toBe(2);
    expect([v.getUint32(0x08, true), v.getUint32(0x0c, true), v.getUint32(0x10, true), v.getUint32(0x8c, true), v.getUint32(0x90, true)]).toEqual([7, 7, 7, 0, 7]);
    expect(v.getUint32(256 + 0x0c, true)).toBe(7);
    const empty = new Uint8Array(256);
    expect(normalizeInodeTimes(empty, 256, 7)).toBe(0);
    expect(empty.every((b) => b === 0)).toBe(true);
  });
  test('generation numbers (random per inode a kernel creates) go to 0, a deleted inode\'s dtime to the epoch', () => {
    const t = new Uint8Array(512);
    const v = new DataView(t.buffer);
    v.setUint16(0x1a, 1, true); v.setUint32(0x64, 0xdeadbeef, true);
    v.setUint32(256 + 0x14, 1234, true); v.setUint32(256 + 0x64, 42, true); // deleted: dtime set, no links
    expect(normalizeInodeTimes(t, 256, 7)).toBe(2);
    expect([v.getUint32(0x64, true), v.getUint32(0x14, true)]).toEqual([0, 0]);
    expect([v.getUint32(256 + 0x64, true), v.getUint32(256 + 0x14, true)]).toEqual([0, 7]);
  });
  test('special inodes: hard links, devices (old and new encoding), fifos, setuid files, symlinks not owned by root, xattrs', () => {
    const size = 256;
    const t = new Uint8Array(size * 12);
    const v = new DataView(t.buffer);
    const inode = (i: number, mode: number, links: number, f: (o: number) => void = () => {}): void => {
      const o = i * size;
      v.setUint16(o, mode, true); v.setUint16(o + 0x1a, links, true); v.setUint16(o + 0x80, 32, true); f(o);
    };
    inode(0, 0x81a4, 2); // ino 11: a file with two names
    inode(1, 0x21b6, 1, (o) => v.setUint32(o + 0x28, (1 << 8) | 3, true)); // 12: char 1:3, old encoding
    inode(2, 0x61b0, 1, (o) => v.setUint32(o + 0x2c, (8 << 8) | 0x10 | (0x100 << 12), true)); // 13: block 8:272, new encoding
    inode(3, 0x11a4, 1); // 14: fifo
    inode(4, 0x89ed, 1); // 15: setuid 04755
    inode(5, 0xa1ff, 1, (o) => { v.setUint16(o + 0x02, 1001, true); v.setUint16(o + 0x18, 50, true); }); // 16: symlink tc:staff
    inode(6, 0x81a4, 1, (o) => v.setUint32(o + 0x68, 99, true)); // 17: xattr block
    inode(7, 0x81a4, 1, (o) => v.setUint32(o + 0x80 + 32, 0xea020000, true)); // 18: in-inode xattr
    inode(8, 0x81a4, 0); // 19: free
    inode(9, 0x81a4, 2, (o) => v.setUint32(o + 0x14, 5, true)); // 20: deleted
    inode(10, 0x41ed, 3); // 21: a directory's links are its subdirectories
    inode(11, 0x81a4, 1); // 22: plain
    expect(specialInodes(t, size, 11, 11).map((s) => [s.ino, s.kind, s.major, s.minor])).toEqual([
      [11, 'hardlink', undefined, undefined], [12, 'char', 1, 3], [13, 'block', 8, 272], [14, 'fifo', undefined, undefined],
      [15, 'setid', undefined, undefined], [16, 'symlink', undefined, undefined], [17, 'xattr', undefined, undefined], [18, 'xattr', undefined, undefined],
    ]);
    // Numbered from 1: inodes 1-10 are reserved (mke2fs's own) except the root (2, here the char device).
    expect(specialInodes(t, size, 1, 11).map((s) => s.ino)).toEqual([2]);
  });
});

describe('disk ids and hooks', () => {
  test('ids derive from the digest only', () => {
    expect(diskIds('a')).toEqual(diskIds('a'));
    expect(diskIds('a').fsUuid).not.toBe(diskIds('b').fsUuid);
    expect(diskIds('a').fsUuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
  test('provision drive: magic, length, script from sector 1', () => {
    const d = provisionDrive(['echo hi', "echo 'q'"]);
    expect(d.length % 512).toBe(0);
    expect(d.subarray(0, 16).toString('latin1')).toBe(PROVISION_MAGIC);
    const len = Number(d.subarray(16, 32).toString('latin1').trim());
    const script = d.subarray(512, 512 + len).toString();
    expect(script).toMatch(/^#!\/bin\/sh\nset -e\n/);
    expect(script).toContain('\necho hi\n');
    expect(script).toContain(`echo 'dbco-provision[2]: echo '\\''q'\\'''`);
  });
  test('hooks layer appends the hook to bootsync.sh once, keeping owner and mode', async () => {
    const data = Buffer.from('#!/bin/sh\n/opt/bootlocal.sh &\n');
    const bootsync: Entry = { path: 'opt/bootsync.sh', kind: 'file', mode: 0o775, uid: 0, gid: 50, mtime: 0, size: data.length, open: async function* () { yield data; } };
    const layer = await diskHooksLayer([bootsync], 5);
    const e = layer.entries.find((x) => x.path === 'opt/bootsync.sh')!;
    const chunks: Buffer[] = [];
    for await (const c of e.open!()) chunks.push(Buffer.from(c));
    expect(Buffer.concat(chunks).toString()).toBe(`#!/bin/sh\n/opt/bootlocal.sh &\n/${PROVISION_HOOK_PATH}\n`);
    expect(e).toMatchObject({ mode: 0o775, uid: 0, gid: 50, mtime: 5 });
    expect(layer.entries.find((x) => x.path === PROVISION_HOOK_PATH)?.mode).toBe(0o755);
  });
});

describe('guest report from the serial console', () => {
  test('provision output between the start line and the confirmation', () => {
    const serial = 'boot noise\ndbco-provision: running steps from /dev/sdb\ndbco-provision[1]: echo hi\nhi\ndbco-provision: exit 0\ndbco-provision: boot confirmed\nreboot: Power down\n';
    expect(guestReport(serial, 'S')).toBe('dbco-provision: running steps from /dev/sdb\ndbco-provision[1]: echo hi\nhi\ndbco-provision: exit 0\n');
  });
  test('a failed step or a missing confirmation is a ToolError naming the console log', () => {
    expect(() => guestReport('dbco-provision: exit 3\ndbco-provision: boot confirmed\n', '/b/serial.log')).toThrow(/provision step failed \(exit 3\); console in \/b\/serial\.log/);
    expect(() => guestReport('Kernel panic\n', '/b/serial.log')).toThrow(/never confirmed its boot/);
  });
});

describe('ext file blocks and journal', () => {
  const info = { blockSize: 1024 } as ExtInfo;
  test('extent tree: a leaf in the inode, an index node one level down, uninitialized extents', async () => {
    const inode = new Uint8Array(256);
    const v = new DataView(inode.buffer);
    v.setUint32(0x20, 0x80000, true);
    v.setUint16(0x28, 0xf30a, true); v.setUint16(0x2a, 1, true); v.setUint16(0x2e, 1, true); // 1 index entry, depth 1
    v.setUint32(0x28 + 12 + 4, 50, true); // leaf at block 50
    const leaf = new Uint8Array(1024);
    const lv = new DataView(leaf.buffer);
    lv.setUint16(0, 0xf30a, true); lv.setUint16(2, 2, true); lv.setUint16(6, 0, true);
    lv.setUint16(12 + 4, 2, true); lv.setUint32(12 + 8, 100, true);
    lv.setUint16(24 + 4, 32768 + 1, true); lv.setUint32(24 + 8, 7, true);
    expect(await fileBlocks(inode, info, async (n) => { expect(n).toBe(50); return leaf; })).toEqual([100, 101, 7]);
  });
  test('block map: direct then single indirect', async () => {
    const inode = new Uint8Array(256);
    const v = new DataView(inode.buffer);
    v.setUint32(0x28, 9, true); v.setUint32(0x28 + 4, 10, true); v.setUint32(0x28 + 48, 20, true);
    const ind = new Uint8Array(1024);
    new DataView(ind.buffer).setUint32(0, 30, true);
    expect(await fileBlocks(inode, info, async () => ind)).toEqual([9, 10, 30]);
  });
  test('journal superblock: sequence back to 1 only when nothing is to be replayed', () => {
    const j = new Uint8Array(1024);
    const v = new DataView(j.buffer);
    v.setUint32(0, 0xc03b3998, false); v.setUint32(0x10, 1024, false); v.setUint32(0x14, 1, false); v.setUint32(0x18, 3, false);
    expect(normalizeJournalSuperblock(j)).toEqual({ clean: true, first: 1, maxlen: 1024 });
    expect(v.getUint32(0x18, false)).toBe(1);
    v.setUint32(0x18, 5, false); v.setUint32(0x1c, 4, false);
    expect(normalizeJournalSuperblock(j).clean).toBe(false);
    expect(v.getUint32(0x18, false)).toBe(5);
    expect(() => normalizeJournalSuperblock(new Uint8Array(1024))).toThrow(/magic/);
  });
});
