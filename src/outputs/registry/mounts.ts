import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../../cache/atomic.js';

/** Repositories remembered per blob: enough to find a mount source, small enough to stay a tiny file. */
const KEEP = 8;

/**
 * Where dbco pushed each blob, per registry: a small JSON file in the cache, so a push to another
 * repository of the same registry can mount (`?mount=&from=`) instead of uploading. Only a hint: a
 * lost or stale entry costs an upload, never a wrong image (the registry checks the digest).
 */
export class MountRecord {
  private entries: Record<string, string[]> = {};
  private dirty = false;

  private constructor(private readonly file: string, private readonly tmpDir: string) {}

  static async open(cacheRoot: string, registry: string): Promise<MountRecord> {
    const record = new MountRecord(path.join(cacheRoot, 'registry', `${registry.replace(/[^A-Za-z0-9.-]/g, '_')}.json`), path.join(cacheRoot, 'tmp'));
    try {
      const parsed = JSON.parse(await readFile(record.file, 'utf8')) as unknown;
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) record.entries = parsed as Record<string, string[]>;
    } catch {
      // none yet, or unreadable: start empty
    }
    return record;
  }

  /** Other repositories of this registry that dbco pushed `digest` to, most recent first. */
  sources(digest: string, repository: string): string[] {
    return (this.entries[digest] ?? []).filter((r) => r !== repository);
  }

  add(digest: string, repository: string): void {
    const list = this.entries[digest] ?? [];
    if (list[0] === repository) return;
    this.entries[digest] = [repository, ...list.filter((r) => r !== repository)].slice(0, KEEP);
    this.dirty = true;
  }

  async save(): Promise<void> {
    if (!this.dirty) return;
    // Another push may have saved meanwhile: merge theirs under ours.
    try {
      const theirs = JSON.parse(await readFile(this.file, 'utf8')) as Record<string, string[]>;
      for (const [digest, repos] of Object.entries(theirs)) {
        if (!Array.isArray(repos)) continue;
        const ours = this.entries[digest] ?? [];
        this.entries[digest] = [...ours, ...repos.filter((r) => typeof r === 'string' && !ours.includes(r))].slice(0, KEEP);
      }
    } catch {
      // nothing to merge
    }
    await writeFileAtomic(this.tmpDir, this.file, JSON.stringify(this.entries));
    this.dirty = false;
  }
}
