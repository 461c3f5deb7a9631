import type { Entry } from './entry.js';

export interface ReadAheadOptions {
  /** Decoded bytes held for files not yet handed out (reserved by their declared size). */
  maxBytes?: number;
  /** Files read at once ahead of the consumer. */
  maxFiles?: number;
  /** Files larger than this are not read ahead but streamed when reached (their reader pipelines itself). */
  smallFile?: number;
  /** Entries taken from the source ahead of the consumer (metadata only). */
  lookahead?: number;
}

export interface EntryWithBody {
  entry: Entry;
  /** The entry's bytes (empty for non-files). Read it before taking the next item, or it is dropped. */
  body: AsyncIterable<Uint8Array>;
}

interface Fetched {
  chunks: Uint8Array[];
  error?: unknown;
}

interface Ahead {
  entry: Entry;
  fetch?: Promise<Fetched>;
}

async function* none(): AsyncGenerator<Uint8Array> {}

async function* replay(f: Fetched): AsyncGenerator<Uint8Array> {
  yield* f.chunks;
  if (f.error !== undefined) throw f.error;
}

/** Never rejects: an error is kept and thrown when the consumer reaches the entry, as a direct read would. */
async function fetchWhole(e: Entry): Promise<Fetched> {
  const chunks: Uint8Array[] = [];
  let n = 0;
  try {
    for await (const c of e.open!()) {
      chunks.push(c);
      // Held no further than its declared size: the writer's own length check reports the rest.
      if ((n += c.length) > e.size) break;
    }
  } catch (error) {
    return { chunks, error };
  }
  return { chunks };
}

/**
 * Entries in order, each with its body, while the bodies of the next small files are already being
 * read. Readers whose work is asynchronous (squashfs blocks inflated on worker threads, file reads)
 * then overlap across files instead of running one file at a time; memory stays bounded by
 * `maxBytes` plus whatever a streamed large file keeps in flight.
 */
export async function* readAhead(entries: Iterable<Entry> | AsyncIterable<Entry>, opts: ReadAheadOptions = {}): AsyncGenerator<EntryWithBody> {
  const maxBytes = opts.maxBytes ?? 8 * 1024 * 1024;
  const maxFiles = opts.maxFiles ?? 32;
  const smallFile = opts.smallFile ?? 1024 * 1024;
  const lookahead = opts.lookahead ?? 256;
  const source = (Symbol.asyncIterator in entries ? entries[Symbol.asyncIterator]() : entries[Symbol.iterator]()) as AsyncIterator<Entry> | Iterator<Entry>;
  const window: Ahead[] = [];
  let reserved = 0;
  let fetching = 0;
  let exhausted = false;

  const wantsFetch = (e: Entry): boolean => e.kind === 'file' && !!e.open && e.size > 0 && e.size <= smallFile;
  /** Starts reads in window order; stops at the first file that does not fit, so the budget goes to the nearest files. */
  const startFetches = (): boolean => {
    for (const a of window) {
      if (a.fetch || !wantsFetch(a.entry)) continue;
      if (fetching >= maxFiles || (reserved > 0 && reserved + a.entry.size > maxBytes)) return false;
      reserved += a.entry.size;
      fetching++;
      a.fetch = fetchWhole(a.entry);
    }
    return true;
  };

  try {
    for (;;) {
      while (!exhausted && window.length < lookahead && startFetches()) {
        const r = await source.next();
        if (r.done) exhausted = true;
        else window.push({ entry: r.value });
      }
      startFetches();
      const a = window.shift();
      if (!a) return;
      if (a.fetch) {
        const fetched = await a.fetch;
        reserved -= a.entry.size;
        fetching--;
        yield { entry: a.entry, body: replay(fetched) };
      } else {
        yield { entry: a.entry, body: a.entry.open ? a.entry.open() : none() };
      }
    }
  } finally {
    if (!exhausted) await source.return?.();
  }
}
