import { constants, createGunzip, gzipSync, createGzip } from 'node:zlib';
import { Readable } from 'node:stream';
import { FormatError } from '../errors.js';

export const isGzipMagic = (b: Uint8Array): boolean => b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;

/**
 * Decompresses a gzip stream of one or more concatenated members (TC's core.gz plus appended
 * initrds). Corruption becomes a FormatError; zero padding after the last member is accepted.
 */
export async function* gunzipChunks(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const gunzip = createGunzip();
  const input = Readable.from(chunks, { objectMode: false });
  input.on('error', (err) => gunzip.destroy(err));
  input.pipe(gunzip);
  try {
    for await (const b of gunzip) yield b as Buffer;
  } catch (err) {
    if (err instanceof FormatError) throw err;
    const e = err as NodeJS.ErrnoException;
    if (typeof e.code === 'string' && e.code.startsWith('Z_')) throw new FormatError('gzip', e.message, { cause: err });
    throw err;
  } finally {
    input.destroy();
    gunzip.destroy();
  }
}

/**
 * Deterministic gzip: header mtime 0 (zlib's default), no name, OS byte forced to 3 (Unix) so the
 * bytes do not depend on the build host.
 */
export async function* gzipChunks(chunks: AsyncIterable<Uint8Array>, level = 9): AsyncGenerator<Uint8Array> {
  const gz = createGzip({ level, flush: constants.Z_NO_FLUSH });
  const input = Readable.from(chunks, { objectMode: false });
  input.on('error', (err) => gz.destroy(err));
  input.pipe(gz);
  let offset = 0;
  try {
    for await (const b of gz) {
      const buf = b as Buffer;
      if (offset <= 9 && offset + buf.length > 9) buf[9 - offset] = 3;
      offset += buf.length;
      yield buf;
    }
  } finally {
    input.destroy();
    gz.destroy();
  }
}

export function gzipBytes(data: Uint8Array, level = 9): Buffer {
  const out = gzipSync(data, { level });
  out[9] = 3;
  return out;
}
