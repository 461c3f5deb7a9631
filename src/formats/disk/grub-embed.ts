/**
 * What grub-bios-setup does to embed GRUB in the MBR gap, done in pure code so no root, loop device
 * or device map is needed. Offsets from GRUB's include/grub/i386/pc/boot.h, boot/i386/pc/boot.S,
 * diskboot.S and util/setup.c:
 *  - boot.img (the MBR code) holds at 0x5c the LBA of core.img's first sector (u64) and at 0x64 the boot
 *    drive (0xff = use the drive the BIOS passed in DL); at 0x66 a 2-byte jump skips that trust for
 *    floppies, which setup replaces with two NOPs for hard disks.
 *  - setup keeps the target's BPB (0x03..0x5a) and its disk signature + partition table (0x1b8..0x1fe).
 *  - core.img's first sector is diskboot.img; its last 12 bytes are the first blocklist entry
 *    {start u64, len u16, segment u16} telling diskboot where the rest of core.img lies. Entries grow
 *    downwards; one entry covers a contiguous embedding and the zeroed entry below ends the list.
 */
import { FormatError } from '../../errors.js';
import { SECTOR } from './mbr.js';

const BPB_START = 0x03;
const BPB_END = 0x5a;
const KERNEL_SECTOR = 0x5c;
const BOOT_DRIVE = 0x64;
const DRIVE_CHECK = 0x66;
const NT_MAGIC = 0x1b8;
const PART_END = 0x1fe;
const LIST_SIZE = 12;

/** boot.img patched to load core.img from `coreLba`, keeping `target`'s BPB, signature and partitions. */
export function patchBootImg(bootImg: Uint8Array, target: Uint8Array, coreLba: number): Uint8Array {
  if (bootImg.length !== SECTOR) throw new FormatError('disk', `boot.img must be ${SECTOR} bytes, got ${bootImg.length}`);
  if (target.length < SECTOR) throw new FormatError('disk', 'target MBR shorter than one sector');
  const out = Uint8Array.from(bootImg);
  out.set(target.subarray(BPB_START, BPB_END), BPB_START);
  out.set(target.subarray(NT_MAGIC, PART_END), NT_MAGIC);
  out[PART_END] = 0x55;
  out[PART_END + 1] = 0xaa;
  const view = new DataView(out.buffer);
  view.setBigUint64(KERNEL_SECTOR, BigInt(coreLba), true);
  out[BOOT_DRIVE] = 0xff;
  // boot.S places `jmp 3f` (0xeb ..) here; hard disks get NOPs so a BIOS passing a bogus DL is still handled.
  if (out[DRIVE_CHECK] !== 0xeb) throw new FormatError('disk', `boot.img: no drive-check jump at 0x${DRIVE_CHECK.toString(16)}: not GRUB 2's boot.img?`);
  out[DRIVE_CHECK] = 0x90;
  out[DRIVE_CHECK + 1] = 0x90;
  return out;
}

/** core.img with diskboot's blocklist pointing at the sectors after `coreLba`, where it will be written. */
export function patchCoreImg(coreImg: Uint8Array, coreLba: number): Uint8Array {
  const sectors = Math.ceil(coreImg.length / SECTOR);
  if (sectors < 2) throw new FormatError('disk', 'core.img is smaller than two sectors');
  if (sectors - 1 > 0xffff) throw new FormatError('disk', 'core.img too large for one blocklist entry');
  const out = new Uint8Array(sectors * SECTOR);
  out.set(coreImg);
  const view = new DataView(out.buffer);
  const first = SECTOR - LIST_SIZE;
  const seg = view.getUint16(first + 10, true);
  // diskboot.img ships with segment 0x820 (0x800 + one sector); anything else means a different layout.
  if (seg !== 0x820) throw new FormatError('disk', `core.img: unexpected blocklist segment 0x${seg.toString(16)}: not diskboot.img?`);
  view.setBigUint64(first, BigInt(coreLba + 1), true);
  view.setUint16(first + 8, sectors - 1, true);
  return out;
}
