import { FormatError } from '../errors.js';
import { comparePaths, type Entry } from './entry.js';
import { safeMemberPath, SymlinkGuard } from './path.js';
import { readAhead } from './read-ahead.js';

/** One entry as a writer will emit it: own path, metadata and data of its hard-link group's source. */
export interface PlannedEntry {
  entry: Entry;
  /** Set on every group member but the first in path order: the path it links to. */
  linkTo?: string;
  /** Hard-link group this entry belongs to (absent when alone): members in path order. */
  group?: string[];
}

/**
 * Collects entries, sorts them by path, and rewrites hard links so every group is
 * "first member in path order holds the data, later members link to it", whatever order and
 * link direction the input used. That keeps writers deterministic and lets extractors meet the
 * link target before the link.
 */
export async function planEntries(entries: Iterable<Entry> | AsyncIterable<Entry>, format: 'cpio' | 'tar'): Promise<PlannedEntry[]> {
  const all: Entry[] = [];
  for await (const e of entries as AsyncIterable<Entry>) all.push(e);
  all.sort((a, b) => comparePaths(a.path, b.path));
  const byPath = new Map<string, Entry>();
  const guard = new SymlinkGuard();
  for (const e of all) {
    // Writers hold the same line as readers: only normalized, contained paths go into an archive.
    if (safeMemberPath(e.path) !== e.path) throw new FormatError(format, `entry path ${JSON.stringify(e.path)} is not normalized`);
    if (byPath.has(e.path)) throw new FormatError(format, `duplicate entry ${JSON.stringify(e.path)}`);
    guard.check(e.path, e.kind);
    byPath.set(e.path, e);
  }
  const rootOf = (e: Entry): Entry => {
    let cur = e;
    for (let hops = 0; cur.kind === 'hardlink'; hops++) {
      const next = cur.linkname === undefined ? undefined : byPath.get(cur.linkname);
      if (!next) throw new FormatError(format, `hard link ${JSON.stringify(e.path)} points to missing entry ${JSON.stringify(cur.linkname)}`);
      if (hops > byPath.size) throw new FormatError(format, `hard link ${JSON.stringify(e.path)} is part of a cycle`);
      cur = next;
    }
    if (cur.kind === 'dir') throw new FormatError(format, `hard link ${JSON.stringify(e.path)} points to directory ${JSON.stringify(cur.path)}`);
    return cur;
  };
  const groups = new Map<Entry, string[]>();
  for (const e of all) {
    if (e.kind !== 'hardlink') continue;
    const root = rootOf(e);
    let g = groups.get(root);
    if (!g) groups.set(root, (g = [root.path]));
    g.push(e.path);
  }
  const groupOf = new Map<string, { root: Entry; members: string[] }>();
  for (const [root, members] of groups) {
    members.sort(comparePaths);
    for (const m of members) groupOf.set(m, { root, members });
  }
  return all.map((e) => {
    const g = groupOf.get(e.path);
    if (!g) return { entry: e };
    const { linkname: _l, ...meta } = g.root;
    const entry: Entry = { ...meta, path: e.path };
    if (g.root.linkname !== undefined) entry.linkname = g.root.linkname;
    const first = g.members[0]!;
    return first === e.path ? { entry, group: g.members } : { entry, linkTo: first, group: g.members };
  });
}

/**
 * The bodies a writer emits, in its order: `next(e)` hands out e's bytes, checked to be exactly as
 * long as its size says. The files after it are read ahead meanwhile (see read-ahead.ts), so a
 * writer fed by asynchronous readers keeps them all busy; `carriesData` must pick the same entries,
 * in the same order, that the writer will ask for.
 */
export function bodiesInOrder(plan: PlannedEntry[], carriesData: (p: PlannedEntry) => boolean, format: 'cpio' | 'tar'): { next(e: Entry): AsyncGenerator<Uint8Array>; close(): Promise<void> } {
  const ahead = readAhead(plan.filter(carriesData).map((p) => p.entry));
  return {
    async *next(e) {
      const r = await ahead.next();
      if (r.done || r.value.entry !== e) throw new FormatError(format, `${e.path}: body asked out of order`);
      yield* checkedBody(e, r.value.body, format);
    },
    async close() {
      await ahead.return(undefined);
    },
  };
}

async function* checkedBody(e: Entry, body: AsyncIterable<Uint8Array>, format: 'cpio' | 'tar'): AsyncGenerator<Uint8Array> {
  if (e.size === 0 && !e.open) return;
  if (!e.open) throw new FormatError(format, `${e.path}: file of ${e.size} bytes has no open()`);
  let n = 0;
  for await (const b of body) {
    n += b.length;
    if (n > e.size) throw new FormatError(format, `${e.path}: contents longer than its size ${e.size}`);
    if (b.length) yield b;
  }
  if (n !== e.size) throw new FormatError(format, `${e.path}: contents are ${n} bytes, size says ${e.size}`);
}
