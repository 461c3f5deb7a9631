import { open } from 'node:fs/promises';

/**
 * Opens `path` before returning its byte stream, so a missing or unreadable file rejects here
 * instead of emitting an error event nobody listens to yet.
 */
export async function openReadStream(path: string): Promise<AsyncIterable<Uint8Array>> {
  const fh = await open(path, 'r');
  return fh.createReadStream({ highWaterMark: 256 * 1024 });
}
