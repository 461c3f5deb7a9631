import { createHash, type Hash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';

/**
 * A file being written while its md5 and sha256 are computed on the same bytes, so a download or a
 * copy is hashed once and never held in memory. `reset()` starts over (a server that ignored Range).
 */
export class HashingFile {
  private md5: Hash = createHash('md5');
  private sha256: Hash = createHash('sha256');
  private written = 0;

  private constructor(readonly path: string, private fh: FileHandle) {}

  static async create(path: string): Promise<HashingFile> {
    return new HashingFile(path, await open(path, 'wx', 0o644));
  }

  get size(): number {
    return this.written;
  }

  async write(chunk: Uint8Array): Promise<void> {
    let done = 0;
    while (done < chunk.length) {
      const { bytesWritten } = await this.fh.write(chunk, done, chunk.length - done, this.written + done);
      done += bytesWritten;
    }
    // Hash only after the bytes are on their way to disk, so hash state and file length never diverge.
    this.md5.update(chunk);
    this.sha256.update(chunk);
    this.written += chunk.length;
  }

  async reset(): Promise<void> {
    await this.fh.truncate(0);
    this.md5 = createHash('md5');
    this.sha256 = createHash('sha256');
    this.written = 0;
  }

  /** fsyncs and closes; returns the digests of everything written. */
  async finish(): Promise<{ md5: string; sha256: string; size: number }> {
    await this.fh.sync();
    await this.fh.close();
    return { md5: this.md5.digest('hex'), sha256: this.sha256.digest('hex'), size: this.written };
  }

  async abandon(): Promise<void> {
    await this.fh.close().catch(() => undefined);
  }
}
