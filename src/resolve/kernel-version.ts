/**
 * The release string of an x86 bzImage, read from its setup header: "HdrS" at 0x202 and, at 0x20E, a
 * 16-bit pointer to the version text minus 0x200. Pure: the caller reads the few bytes it needs.
 */
const HDR_MAGIC = 0x53726448; // "HdrS"

/** Offset of the version string in the image, or null when the header is not a bzImage's. */
export function bzImageVersionOffset(header: Uint8Array): number | null {
  if (header.length < 0x210) return null;
  const dv = new DataView(header.buffer, header.byteOffset, header.byteLength);
  if (dv.getUint32(0x202, true) !== HDR_MAGIC) return null;
  // Protocol 2.00+ has kernel_version; 0 means "not present".
  if (dv.getUint16(0x206, true) < 0x200) return null;
  const ptr = dv.getUint16(0x20e, true);
  if (ptr === 0) return null;
  return ptr + 0x200;
}

/** "6.1.2-tinycore64 (tc@box) #1 SMP ..." -> "6.1.2-tinycore64"; null when it does not look like one. */
export function parseVersionText(bytes: Uint8Array): string | null {
  let end = 0;
  while (end < bytes.length && bytes[end] !== 0 && bytes[end] !== 0x20) end++;
  const text = Buffer.from(bytes.subarray(0, end)).toString('latin1');
  return /^\d+\.\d+[\w.+~-]*$/.test(text) ? text : null;
}

/** Both steps on one buffer holding the image's start (enough when the buffer covers the string). */
export function bzImageVersion(image: Uint8Array): string | null {
  const at = bzImageVersionOffset(image);
  if (at === null || at >= image.length) return null;
  return parseVersionText(image.subarray(at, Math.min(image.length, at + 256)));
}
