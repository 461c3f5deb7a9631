/**
 * Random access to an archive's bytes. squashfs and ISO9660 keep their tables at offsets, so their
 * readers take a ByteSource instead of a stream; files, buffers and cache blobs all adapt to it.
 */
export interface ByteSource {
  readonly size: number;
  /** Reads exactly `length` bytes at `offset`, or fewer only at the end of the source. */
  read(offset: number, length: number): Promise<Uint8Array>;
}

export function bufferSource(bytes: Uint8Array): ByteSource {
  return {
    size: bytes.length,
    async read(offset, length) {
      return bytes.subarray(offset, Math.min(bytes.length, offset + length));
    },
  };
}
