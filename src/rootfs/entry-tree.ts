import { comparePaths, type Entry } from '../formats/entry.js';

/**
 * A rootfs tree built by stacking layers, with the overlay rules Docker applies to layer tars: later
 * entries replace earlier ones, a non-directory replacing a directory removes its subtree, directories
 * merge, whiteouts delete a path and everything under it.
 *
 * Hard links are tracked by the entry holding their data (the inode) rather than by path, so when a
 * later layer replaces or deletes a link's target the link keeps the content it was created with:
 * that is what a real filesystem does, and a tar/cpio writer can only express it when one path of the
 * group holds the data and the others point at it.
 */
interface Slot {
  entry: Entry;
  /** For a hard link: the entry whose data and metadata the link shares; undefined when it dangles. */
  data?: Entry;
}

export interface FinishOptions {
  /**
   * A complete tree: synthesize missing parent directories (root, 0755), drop entries under a
   * non-directory, drop hard links with no data. A single layer is not complete: its links may point
   * into the layers below it.
   */
  complete: boolean;
}

export class EntryTree {
  private readonly slots = new Map<string, Slot>();

  /**
   * 'kernel': one archive's own entries as the kernel's initramfs unpacker (init/initramfs.c) applies
   * them. Its clean_path() removes a node of another type before creating the new one, with rmdir for
   * a directory: that fails while the directory has children, and the new non-directory is then not
   * created. So a later entry wins, except over a directory that already holds entries.
   * 'layers' (default): Docker's rules, a non-directory replaces a directory with its subtree.
   */
  constructor(private readonly mode: 'layers' | 'kernel' = 'layers') {}

  /** Applies one layer: its whiteouts first (they address the layers below), then its entries. */
  addLayer(entries: readonly Entry[], whiteouts: readonly string[] = []): void {
    for (const w of whiteouts) this.remove(w);
    const links = new Map<string, Entry>();
    for (const e of entries) {
      if (e.kind === 'hardlink') links.set(e.path, e);
      else this.put(e.path, { entry: e });
    }
    // Resolve every link before placing any, so a link of this layer that replaces a lower path does
    // not change what another link of this layer, naming that path, resolves to.
    const resolved: Array<[string, Slot]> = [];
    for (const link of links.values()) resolved.push([link.path, { entry: link, data: this.dataOf(link, links) }]);
    for (const [path, slot] of resolved) this.put(path, slot);
  }

  /** Deletes a path and its subtree (an OCI whiteout). */
  remove(path: string): void {
    this.slots.delete(path);
    this.removeUnder(path);
  }

  /** The entry at a path, with a hard link answered by the entry holding its data. */
  get(path: string): Entry | undefined {
    const slot = this.slots.get(path);
    if (!slot) return undefined;
    return slot.entry.kind === 'hardlink' ? slot.data : slot.entry;
  }

  has(path: string): boolean {
    return this.slots.has(path);
  }

  /** The tree as a sorted entry list with canonical hard-link groups (data on the first path). */
  finish(opts: FinishOptions): Entry[] {
    if (opts.complete) this.addMissingParents();
    const paths = [...this.slots.keys()].sort(comparePaths);
    const kept: Array<{ path: string; slot: Slot; data: Entry | undefined }> = [];
    const blocked = new Set<string>();
    for (const path of paths) {
      const slot = this.slots.get(path)!;
      if (opts.complete) {
        const parent = parentOf(path);
        if (parent !== '' && (blocked.has(parent) || this.slots.get(parent)!.entry.kind !== 'dir')) {
          blocked.add(path);
          continue;
        }
      }
      const data = slot.entry.kind === 'hardlink' ? slot.data : slot.entry;
      if (data === undefined && opts.complete) continue;
      kept.push({ path, slot, data });
    }
    const firstPathOf = new Map<Entry, string>();
    const out: Entry[] = [];
    for (const { path, slot, data } of kept) {
      if (data === undefined) {
        out.push(slot.entry);
        continue;
      }
      const first = firstPathOf.get(data);
      if (first === undefined) {
        firstPathOf.set(data, path);
        out.push(data.path === path && slot.entry === data ? data : { ...data, path });
      } else {
        out.push({
          path, kind: 'hardlink', linkname: first, mode: data.mode, uid: data.uid, gid: data.gid, mtime: data.mtime, size: 0,
        });
      }
    }
    return out;
  }

  private dataOf(link: Entry, linksOfLayer: ReadonlyMap<string, Entry>): Entry | undefined {
    let target = link.linkname ?? '';
    const seen = new Set<string>([link.path]);
    while (linksOfLayer.has(target)) {
      if (seen.has(target)) return undefined;
      seen.add(target);
      target = linksOfLayer.get(target)!.linkname ?? '';
    }
    return this.get(target);
  }

  private put(path: string, slot: Slot): void {
    const existing = this.slots.get(path);
    if (existing && existing.entry.kind === 'dir' && slot.entry.kind !== 'dir') {
      if (this.mode === 'kernel' && this.hasUnder(path)) return;
      this.removeUnder(path);
    }
    this.slots.set(path, slot);
  }

  private hasUnder(path: string): boolean {
    const prefix = `${path}/`;
    for (const key of this.slots.keys()) if (key.startsWith(prefix)) return true;
    return false;
  }

  private removeUnder(path: string): void {
    const prefix = `${path}/`;
    for (const key of this.slots.keys()) if (key.startsWith(prefix)) this.slots.delete(key);
  }

  private addMissingParents(): void {
    for (const [path, slot] of [...this.slots]) {
      for (let parent = parentOf(path); parent !== '' && !this.slots.has(parent); parent = parentOf(parent)) {
        this.slots.set(parent, {
          entry: { path: parent, kind: 'dir', mode: 0o755, uid: 0, gid: 0, mtime: slot.entry.mtime, size: 0 },
        });
      }
    }
  }
}

export function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i);
}
