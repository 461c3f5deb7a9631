import { FormatError } from '../../errors.js';
import type { Entry, EntryMeta } from '../entry.js';
import type { ByteSource } from '../source.js';
import { BodyStream, ChunkReader, type StreamEntry } from '../stream-reader.js';
import { LinkGroups } from './hardlinks.js';
import { SourceCursor } from './input.js';
import { scanCpio, type NewcHeader } from './newc.js';

const EMPTY_BODY: AsyncIterable<Uint8Array> = { async *[Symbol.asyncIterator]() {} };

/** crc format: the check field is the 32-bit sum of the data bytes. */
function crcChecker(h: NewcHeader, path: string): { onData?: (b: Uint8Array) => void; onEnd?: () => void } {
  if (!h.crc) return {};
  let sum = 0;
  return {
    onData: (b) => {
      for (let i = 0; i < b.length; i++) sum = (sum + b[i]!) >>> 0;
    },
    onEnd: () => {
      if (sum !== h.check) throw new FormatError('cpio', `${path}: crc checksum mismatch (header ${h.check}, data ${sum})`);
    },
  };
}

/** Streams entries out of one or more concatenated newc/crc archives (decompressed bytes). */
export async function* readCpio(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<StreamEntry> {
  const r = new ChunkReader(chunks, 'cpio');
  const links = new LinkGroups<null>();
  const held = (metas: EntryMeta[]) => metas.map((entry) => ({ entry, body: EMPTY_BODY }));
  try {
    yield* streamEntries(r, links, held);
  } finally {
    await r.close();
  }
}

async function* streamEntries(r: ChunkReader, links: LinkGroups<null>, held: (m: EntryMeta[]) => StreamEntry[]): AsyncGenerator<StreamEntry> {
  for await (const s of scanCpio(r)) {
    if (s.type === 'root') continue;
    if (s.type === 'trailer') {
      for (const g of links.flush()) yield* [{ entry: g.meta, body: EMPTY_BODY }, ...held(g.after)];
      continue;
    }
    if (s.meta.kind !== 'file') {
      yield { entry: s.meta, body: EMPTY_BODY };
      continue;
    }
    const c = crcChecker(s.header, s.meta.path);
    const body = new BodyStream(r, s.dataSize, s.meta.path, c.onData, c.onEnd);
    const d = links.add(s.meta, s.header, null);
    if (d.action === 'emit') {
      yield { entry: d.meta, body: body.iterable() };
      await body.finish();
      yield* held(d.after);
    } else {
      await body.finish();
      if (d.action === 'link') yield { entry: d.meta, body: EMPTY_BODY };
    }
  }
}

interface DataRef {
  offset: number;
  size: number;
  header: NewcHeader;
}

/** Indexes decompressed cpio bytes once; file entries read their data lazily from `src`. */
export async function indexCpio(src: ByteSource): Promise<Entry[]> {
  const cur = new SourceCursor(src);
  const links = new LinkGroups<DataRef>();
  const out: Entry[] = [];
  const push = (meta: EntryMeta, ref: DataRef | null, after: EntryMeta[]) => {
    out.push(ref ? { ...meta, open: () => readRange(src, ref, meta.path) } : meta);
    out.push(...after);
  };
  for await (const s of scanCpio(cur)) {
    if (s.type === 'root') continue;
    if (s.type === 'trailer') {
      for (const g of links.flush()) push(g.meta, g.ref, g.after);
      continue;
    }
    if (s.meta.kind !== 'file') {
      out.push(s.meta);
      continue;
    }
    await cur.skip(s.dataSize, `data of ${s.meta.path}`);
    const d = links.add(s.meta, s.header, { offset: s.dataOffset, size: s.dataSize, header: s.header });
    if (d.action === 'emit') push(d.meta, d.ref, d.after);
    else if (d.action === 'link') out.push(d.meta);
  }
  return out;
}

async function* readRange(src: ByteSource, ref: DataRef, path: string): AsyncGenerator<Uint8Array> {
  const c = crcChecker(ref.header, path);
  const CHUNK = 256 * 1024;
  for (let at = 0; at < ref.size; ) {
    const b = await src.read(ref.offset + at, Math.min(CHUNK, ref.size - at));
    if (b.length === 0) throw new FormatError('cpio', `${path}: data truncated at offset ${ref.offset + at}`);
    c.onData?.(b);
    at += b.length;
    yield b;
  }
  c.onEnd?.();
}
