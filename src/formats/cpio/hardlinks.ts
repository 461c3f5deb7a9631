import type { EntryMeta } from '../entry.js';
import type { NewcHeader } from './newc.js';

/**
 * newc stores a hard-link group's data on its LAST member, the others carry size 0. The entry model
 * wants the data-bearing entry first and the rest as 'hardlink' to it, so names seen before the data
 * are held back (names only, never data) until the data-bearing member or the end of the archive.
 */
export class LinkGroups<R> {
  private groups = new Map<string, { target?: string; pending: { meta: EntryMeta; ref: R }[] }>();

  /**
   * Classifies a regular-file member. 'emit': emit it now (with its data), then `after` as hardlinks.
   * 'hold': nothing to emit yet. 'link': emit it as a hardlink (data skipped).
   */
  add(meta: EntryMeta, h: NewcHeader, ref: R): { action: 'emit'; meta: EntryMeta; ref: R; after: EntryMeta[] } | { action: 'hold' } | { action: 'link'; meta: EntryMeta } {
    if (h.nlink < 2) return { action: 'emit', meta, ref, after: [] };
    const key = `${h.devmajor}:${h.devminor}:${h.ino}`;
    let g = this.groups.get(key);
    if (!g) this.groups.set(key, (g = { pending: [] }));
    if (g.target !== undefined) {
      // A second data-bearing member is not newc's convention (reused inode numbers, or a writer
      // that stores data on every link): keep its data rather than dropping it as a link.
      if (meta.size > 0) return { action: 'emit', meta, ref, after: [] };
      return { action: 'link', meta: asLink(meta, g.target) };
    }
    if (meta.size > 0 || g.pending.length + 1 >= h.nlink) {
      g.target = meta.path;
      const after = g.pending.map((p) => asLink(p.meta, meta.path));
      g.pending = [];
      return { action: 'emit', meta, ref, after };
    }
    g.pending.push({ meta, ref });
    return { action: 'hold' };
  }

  /** End of one archive: groups whose data never came (all empty) are emitted with their last name as the file. */
  flush(): { meta: EntryMeta; ref: R; after: EntryMeta[] }[] {
    const out: { meta: EntryMeta; ref: R; after: EntryMeta[] }[] = [];
    for (const g of this.groups.values()) {
      const last = g.pending.pop();
      if (!last) continue;
      out.push({ meta: last.meta, ref: last.ref, after: g.pending.map((p) => asLink(p.meta, last.meta.path)) });
    }
    this.groups.clear();
    return out;
  }
}

function asLink(meta: EntryMeta, target: string): EntryMeta {
  return { ...meta, kind: 'hardlink', size: 0, linkname: target };
}
