import { FormatError } from '../../errors.js';
import type { Entry, EntryKind } from '../entry.js';
import { bodiesInOrder, planEntries, type PlannedEntry } from '../write-plan.js';
import { BLOCK, F, octalMax, paxRecord, putOctal, putString, sealChecksum } from './header.js';

export interface TarOptions {
  /** every mtime is set to this (SOURCE_DATE_EPOCH or a fixed epoch) when given */
  mtime?: number;
}

const enc = new TextEncoder();
const TYPEFLAG: Record<Exclude<EntryKind, 'hardlink' | 'socket'>, string> = { file: '0', symlink: '2', char: '3', block: '4', dir: '5', fifo: '6' };

/** Splits a name over ustar's prefix (155) and name (100) fields at a '/', or returns null. */
function splitUstar(name: Uint8Array): { prefix: Uint8Array; name: Uint8Array } | null {
  if (name.length <= 100) return { prefix: new Uint8Array(0), name };
  // The shortest prefix that works leaves the most of the name in 'name', and is a fixed choice.
  for (let i = Math.max(1, name.length - 101); i < name.length && i <= 155; i++) {
    if (name[i] === 0x2f && name.length - i - 1 <= 100 && name.length - i - 1 > 0) return { prefix: name.subarray(0, i), name: name.subarray(i + 1) };
  }
  return null;
}

function header(fields: { name: Uint8Array; prefix?: Uint8Array; mode: number; uid: number; gid: number; size: number; mtime: number; type: string; linkname?: Uint8Array; devmajor?: number; devminor?: number }): Uint8Array {
  const h = new Uint8Array(BLOCK);
  putString(h, F.name, fields.name);
  putOctal(h, F.mode, fields.mode);
  putOctal(h, F.uid, fields.uid);
  putOctal(h, F.gid, fields.gid);
  putOctal(h, F.size, fields.size);
  putOctal(h, F.mtime, fields.mtime);
  h[F.typeflag[0]] = fields.type.charCodeAt(0);
  if (fields.linkname) putString(h, F.linkname, fields.linkname);
  putString(h, F.magic, enc.encode('ustar\0'));
  putString(h, F.version, enc.encode('00'));
  putOctal(h, F.devmajor, fields.devmajor ?? 0);
  putOctal(h, F.devminor, fields.devminor ?? 0);
  if (fields.prefix) putString(h, F.prefix, fields.prefix);
  sealChecksum(h);
  return h;
}

function padding(size: number): Uint8Array | null {
  const p = (BLOCK - (size % BLOCK)) % BLOCK;
  return p ? new Uint8Array(p) : null;
}

/** Whiteout marker for a deleted path: '.wh.' + basename beside it (OCI image-spec layer format). */
function whiteoutEntry(path: string, mtime: number): Entry {
  const slash = path.lastIndexOf('/');
  return marker(`${path.slice(0, slash + 1)}.wh.${path.slice(slash + 1)}`, mtime);
}

function marker(path: string, mtime: number): Entry {
  return { path, kind: 'file', mode: 0, uid: 0, gid: 0, mtime, size: 0 };
}

/**
 * Deterministic layer writer (see docs/formats.md): sorted by path, ustar headers, PAX records only
 * for what ustar cannot hold, empty uname/gname, no atime/ctime. Sockets have no tar form and are skipped,
 * as GNU tar does.
 */
export async function* writeTar(
  entries: Iterable<Entry> | AsyncIterable<Entry>,
  opts: TarOptions & { whiteouts?: string[]; /** directories whose lower-layer contents are hidden ('.wh..wh..opq') */ opaque?: string[] } = {},
): AsyncGenerator<Uint8Array> {
  const all: Entry[] = [];
  for await (const e of entries as AsyncIterable<Entry>) all.push(e);
  for (const w of opts.whiteouts ?? []) all.push(whiteoutEntry(w, opts.mtime ?? 0));
  for (const d of opts.opaque ?? []) all.push(marker(`${d}/.wh..wh..opq`, opts.mtime ?? 0));
  const plan = await planEntries(all, 'tar');
  const bodies = bodiesInOrder(plan, (p) => p.entry.kind === 'file' && p.linkTo === undefined, 'tar');
  try {
    yield* entriesOf(plan, bodies, opts);
  } finally {
    await bodies.close();
  }
  yield new Uint8Array(2 * BLOCK);
}

async function* entriesOf(plan: PlannedEntry[], bodies: ReturnType<typeof bodiesInOrder>, opts: TarOptions): AsyncGenerator<Uint8Array> {
  for (const { entry: e, linkTo } of plan) {
    if (e.kind === 'socket') continue;
    if (e.kind === 'hardlink') throw new FormatError('tar', `${e.path}: unresolved hard link`);
    const mtime = opts.mtime ?? e.mtime;
    const type = linkTo !== undefined ? '1' : TYPEFLAG[e.kind];
    const fullName = enc.encode(e.kind === 'dir' ? `${e.path}/` : e.path);
    const link = linkTo !== undefined ? linkTo : e.kind === 'symlink' ? (e.linkname ?? '') : undefined;
    if (e.kind === 'symlink' && !link) throw new FormatError('tar', `${e.path}: symlink without target`);
    const linkBytes = link === undefined ? undefined : enc.encode(link);
    const size = type === '0' ? e.size : 0;
    const pax: [string, string][] = [];

    let nameFields = splitUstar(fullName);
    if (!nameFields) {
      pax.push(['path', e.kind === 'dir' ? `${e.path}/` : e.path]);
      nameFields = { prefix: new Uint8Array(0), name: truncate(fullName, 100) };
    }
    if (linkBytes && linkBytes.length > 100) pax.push(['linkpath', link!]);
    const numeric = (key: string, v: number, width: number): number => {
      if (!Number.isSafeInteger(v) || v < 0) throw new FormatError('tar', `${e.path}: ${key} ${v} is not a non-negative integer`);
      if (v <= octalMax(width)) return v;
      pax.push([key, String(v)]);
      return 0;
    };
    const uid = numeric('uid', e.uid, 8);
    const gid = numeric('gid', e.gid, 8);
    const sizeField = numeric('size', size, 12);
    const mtimeField = numeric('mtime', mtime, 12);
    const isDev = e.kind === 'char' || e.kind === 'block';
    for (const [k, v] of [['devmajor', e.devmajor ?? 0], ['devminor', e.devminor ?? 0]] as const) {
      if (isDev && (!Number.isInteger(v) || v < 0 || v > octalMax(8))) throw new FormatError('tar', `${e.path}: ${k} ${v} does not fit ustar`);
    }

    if (pax.length) {
      pax.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
      const parts = pax.map(([k, v]) => paxRecord(k, v));
      const data = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
      let at = 0;
      for (const p of parts) {
        data.set(p, at);
        at += p.length;
      }
      const base = e.path.slice(e.path.lastIndexOf('/') + 1);
      yield header({ name: truncate(enc.encode(`PaxHeaders/${base}`), 100), mode: 0o644, uid: 0, gid: 0, size: data.length, mtime: Math.min(mtimeField, octalMax(12)), type: 'x' });
      yield data;
      const p = padding(data.length);
      if (p) yield p;
    }
    yield header({
      name: nameFields.name,
      prefix: nameFields.prefix,
      mode: e.mode & 0o7777,
      uid,
      gid,
      size: sizeField,
      mtime: mtimeField,
      type,
      linkname: linkBytes && linkBytes.length <= 100 ? linkBytes : linkBytes ? truncate(linkBytes, 100) : undefined,
      devmajor: isDev ? e.devmajor ?? 0 : 0,
      devminor: isDev ? e.devminor ?? 0 : 0,
    });
    if (type === '0') {
      for await (const b of bodies.next(e)) yield b;
      const p = padding(size);
      if (p) yield p;
    }
  }
}

/** Cuts to at most n bytes without splitting a UTF-8 sequence (the full value is in the PAX record). */
function truncate(b: Uint8Array, n: number): Uint8Array {
  if (b.length <= n) return b;
  let end = n;
  while (end > 0 && (b[end]! & 0xc0) === 0x80) end--;
  return b.subarray(0, end);
}

/**
 * Members in the order they arrive, each written as soon as it does (and its body read then): for an
 * archive whose later members do not exist yet when the first are sent, such as an image streamed to
 * an engine while its layers are still being built. Nothing is sorted, so the bytes are only as
 * deterministic as the order given; files and directories only.
 */
export async function* writeTarInOrder(entries: AsyncIterable<Entry>, opts: TarOptions = {}): AsyncGenerator<Uint8Array> {
  const seen = new Set<string>();
  for await (const e of entries) {
    if (e.kind !== 'file' && e.kind !== 'dir') throw new FormatError('tar', `${e.path}: only files and directories can be streamed in order`);
    if (seen.has(e.path)) throw new FormatError('tar', `duplicate entry ${JSON.stringify(e.path)}`);
    seen.add(e.path);
    const plan = await planEntries([e], 'tar');
    const bodies = bodiesInOrder(plan, (p) => p.entry.kind === 'file', 'tar');
    try {
      yield* entriesOf(plan, bodies, opts);
    } finally {
      await bodies.close();
    }
  }
  yield new Uint8Array(2 * BLOCK);
}
