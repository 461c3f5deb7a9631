/** Byte streams for the format suites: a file or buffer as chunks (odd sizes cross every boundary), and back. */
import { createReadStream } from 'node:fs';

export async function* fileChunks(file: string): AsyncGenerator<Uint8Array> {
  for await (const b of createReadStream(file, { highWaterMark: 64 * 1024 })) yield b as Buffer;
}

export async function* bytesChunks(b: Uint8Array, size = 7919): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
}

export async function collect(chunks: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const b of chunks) parts.push(Buffer.from(b));
  return Buffer.concat(parts);
}
