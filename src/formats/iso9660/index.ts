import type { Entry, EntryKind } from '../entry.js';
import { kindFromIfmt } from '../entry.js';
import type { ByteSource } from '../source.js';
import { checkName, decodeAscii, decodeUcs2be, fail, shortDate, u16, u32 } from './bytes.js';
import { SystemUseParser, type SystemUse } from './rockridge.js';

/**
 * ISO9660 (ECMA-119) reader over a ByteSource, with Rock Ridge names, modes, times and symlinks,
 * Joliet names when an image has no Rock Ridge, and plain ISO names otherwise. Pure: no fs.
 */
export interface Iso9660 {
  readonly volumeId: string;
  readonly rockRidge: boolean;
  readonly joliet: boolean;
  /** Every entry, parents before children, directories in record order. */
  entries(): AsyncIterable<Entry>;
  /** The entry at a '/'-separated path ('' or '/' is not an entry), or undefined. */
  lookup(path: string): Promise<Entry | undefined>;
  /** The entries directly inside a directory, or undefined when it is not one. */
  list(path: string): Promise<Entry[] | undefined>;
}

const SECTOR = 2048;
const MAX_DESCRIPTORS = 64;
const MAX_DIR_BYTES = 64 * 1024 * 1024;
const MAX_CONTINUATIONS = 32;
const MAX_ENTRIES = 2_000_000;
const MAX_DEPTH = 256;
const READ_CHUNK = 256 * 1024;

interface Extent {
  offset: number;
  length: number;
}

interface Node extends Entry {
  /** For directories: where its records live. */
  dir?: Extent;
}

interface Volume {
  blockSize: number;
  root: Extent;
  volumeId: string;
  joliet?: Extent;
}

async function readExact(src: ByteSource, offset: number, length: number, what: string): Promise<Uint8Array> {
  if (offset < 0 || length < 0 || offset + length > src.size) fail(`${what} at ${offset}+${length} lies outside the image (${src.size} bytes)`);
  const b = await src.read(offset, length);
  if (b.length !== length) fail(`${what}: short read at ${offset}`);
  return b;
}

async function readVolume(src: ByteSource): Promise<Volume> {
  let primary: Volume | undefined;
  let joliet: Extent | undefined;
  for (let i = 0; i < MAX_DESCRIPTORS; i++) {
    const off = (16 + i) * SECTOR;
    if (off + SECTOR > src.size) break;
    const d = await readExact(src, off, SECTOR, 'volume descriptor');
    if (decodeAscii(d.subarray(1, 6)) !== 'CD001') break;
    const type = d[0]!;
    if (type === 255) break;
    if (type === 1 && !primary) {
      const blockSize = u16(d, 128);
      if (![512, 1024, 2048].includes(blockSize)) fail(`unsupported logical block size ${blockSize}`);
      const root = rootExtent(d, blockSize, src.size);
      primary = { blockSize, root, volumeId: decodeAscii(d.subarray(40, 72)).trimEnd() };
    } else if (type === 2 && !joliet) {
      const esc = decodeAscii(d.subarray(88, 91));
      if (esc === '%/@' || esc === '%/C' || esc === '%/E') {
        const bs = u16(d, 128);
        if ([512, 1024, 2048].includes(bs)) joliet = rootExtent(d, bs, src.size);
      }
    }
  }
  if (!primary) fail('no primary volume descriptor at sector 16');
  return joliet ? { ...primary, joliet } : primary;
}

function rootExtent(d: Uint8Array, blockSize: number, size: number): Extent {
  const rec = d.subarray(156, 190);
  if (rec[0]! < 34) fail('root directory record too short');
  if (!(rec[25]! & 0x02)) fail('root directory record is not a directory');
  const extent = { offset: (u32(rec, 2) + rec[1]!) * blockSize, length: u32(rec, 10) };
  checkExtent(extent, size, 'root directory');
  return extent;
}

function checkExtent(e: Extent, size: number, what: string): void {
  if (e.length > 0 && e.offset + e.length > size) fail(`${what} extent ${e.offset}+${e.length} lies outside the image (${size} bytes)`);
}

interface RawRecord {
  name: Uint8Array;
  flags: number;
  extent: Extent;
  date: number;
  su: Uint8Array;
}

function parseRecords(bytes: Uint8Array, blockSize: number, imageSize: number): RawRecord[] {
  const out: RawRecord[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    const len = bytes[pos]!;
    if (len === 0) {
      // Records never cross a sector: a zero length means "continue in the next sector".
      pos = (Math.floor(pos / SECTOR) + 1) * SECTOR;
      continue;
    }
    if (len < 34 || pos + len > bytes.length) fail(`directory record at ${pos} has bad length ${len}`);
    const r = bytes.subarray(pos, pos + len);
    const nameLen = r[32]!;
    if (33 + nameLen > len) fail(`directory record at ${pos}: name longer than record`);
    const suStart = 33 + nameLen + (nameLen % 2 === 0 ? 1 : 0);
    const extent = { offset: (u32(r, 2) + r[1]!) * blockSize, length: u32(r, 10) };
    checkExtent(extent, imageSize, 'file');
    out.push({ name: r.subarray(33, 33 + nameLen), flags: r[25]!, extent, date: shortDate(r, 18), su: r.subarray(Math.min(suStart, len)) });
    pos += len;
  }
  return out;
}

function plainName(raw: Uint8Array, joliet: boolean): string {
  let n = joliet ? decodeUcs2be(raw) : decodeAscii(raw);
  n = n.replace(/;\d*$/, '');
  if (!joliet) n = n.replace(/\.$/, '');
  return n;
}

export async function openIso9660(src: ByteSource): Promise<Iso9660> {
  const vol = await readVolume(src);
  const bs = vol.blockSize;

  async function readDirBytes(ext: Extent): Promise<Uint8Array> {
    if (ext.length > MAX_DIR_BYTES) fail(`directory of ${ext.length} bytes is implausibly large`);
    return readExact(src, ext.offset, ext.length, 'directory');
  }

  async function systemUse(area: Uint8Array, skip: number): Promise<SystemUse> {
    const parser = new SystemUseParser();
    let ce = parser.parseArea(area.subarray(Math.min(skip, area.length)));
    for (let hops = 0; ce; hops++) {
      if (hops >= MAX_CONTINUATIONS) fail('too many system use continuation areas');
      if (ce.length > SECTOR * 4) fail(`continuation area of ${ce.length} bytes`);
      const bytes = await readExact(src, ce.block * bs + ce.offset, ce.length, 'continuation area');
      ce = parser.parseArea(bytes);
    }
    return parser.out;
  }

  // Rock Ridge is announced by SP in the first System Use area of the root's "." record.
  const rootRecords = parseRecords(await readDirBytes(vol.root), bs, src.size);
  let susp: { skip: number } | undefined;
  if (rootRecords[0] && rootRecords[0].name.length === 1 && rootRecords[0].name[0] === 0) {
    susp = (await systemUse(rootRecords[0].su, 0)).sp;
  }
  const rockRidge = susp !== undefined;
  const useJoliet = !rockRidge && vol.joliet !== undefined;
  const rootExt = useJoliet ? vol.joliet! : vol.root;

  const listings = new Map<number, Promise<Node[]>>();

  async function dirExtentAt(block: number): Promise<Extent> {
    // A relocated directory (CL) is sized by the "." record at its start.
    const head = await readExact(src, block * bs, Math.min(SECTOR, src.size - block * bs), 'relocated directory');
    const recs = parseRecords(head.subarray(0, Math.min(head.length, head[0] ?? 0)), bs, src.size);
    if (!recs[0]) fail(`relocated directory at block ${block} has no "." record`);
    return { offset: block * bs, length: recs[0].extent.length };
  }

  async function readDir(ext: Extent): Promise<Node[]> {
    const records = parseRecords(await readDirBytes(ext), bs, src.size);
    const nodes: Node[] = [];
    let pending: { node: Node; extents: Extent[] } | undefined;
    for (const rec of records) {
      if (rec.name.length === 1 && (rec.name[0] === 0 || rec.name[0] === 1)) continue;
      const su = rockRidge ? await systemUse(rec.su, susp!.skip) : {};
      if (su.relocated) continue;
      const isDir = Boolean(rec.flags & 0x02) || su.childLink !== undefined;
      if (pending) {
        // Multi-extent file: the continuation records repeat the name and carry the next pieces.
        pending.extents.push(rec.extent);
        pending.node.size += rec.extent.length;
        if (!(rec.flags & 0x80)) {
          finishFile(pending.node, pending.extents);
          pending = undefined;
        }
        continue;
      }
      const name = checkName(su.name ?? plainName(rec.name, useJoliet));
      let kind: EntryKind = isDir ? 'dir' : 'file';
      let mode = isDir ? 0o555 : 0o444;
      if (su.px) {
        const k = kindFromIfmt(su.px.mode);
        if (!k) fail(`${name}: unknown file type in mode ${su.px.mode.toString(8)}`);
        if ((k === 'dir') !== isDir) fail(`${name}: Rock Ridge mode and directory flag disagree`);
        kind = k;
        mode = su.px.mode & 0o7777;
      }
      const node: Node = {
        path: name,
        kind,
        mode,
        uid: su.px?.uid ?? 0,
        gid: su.px?.gid ?? 0,
        mtime: su.mtime ?? rec.date,
        size: 0,
      };
      if (kind === 'dir') {
        node.dir = su.childLink !== undefined ? await dirExtentAt(su.childLink) : rec.extent;
      } else if (kind === 'symlink') {
        if (su.symlink === undefined) fail(`${name}: symlink without SL entry`);
        node.linkname = su.symlink;
      } else if (kind === 'char' || kind === 'block') {
        node.devmajor = su.pn?.major ?? 0;
        node.devminor = su.pn?.minor ?? 0;
      } else if (kind === 'file') {
        node.size = rec.extent.length;
        if (rec.flags & 0x80) {
          pending = { node, extents: [rec.extent] };
          nodes.push(node);
          continue;
        }
        finishFile(node, [rec.extent]);
      }
      nodes.push(node);
    }
    if (pending) fail(`${pending.node.path}: multi-extent file without its last extent`);
    return nodes;
  }

  function finishFile(node: Node, extents: Extent[]): void {
    node.open = () => readExtents(src, extents);
  }

  function listing(ext: Extent): Promise<Node[]> {
    let p = listings.get(ext.offset);
    if (!p) {
      p = readDir(ext);
      listings.set(ext.offset, p);
    }
    return p;
  }

  function withPath(n: Node, path: string): Entry {
    const { dir: _dir, ...e } = n;
    return { ...e, path };
  }

  async function find(path: string): Promise<Node | undefined> {
    const parts = path.split('/').filter((p) => p !== '');
    let ext = rootExt;
    let node: Node | undefined;
    for (const [i, part] of parts.entries()) {
      node = (await listing(ext)).find((n) => n.path === part);
      if (!node) return undefined;
      if (i < parts.length - 1) {
        if (!node.dir) return undefined;
        ext = node.dir;
      }
    }
    return node;
  }

  return {
    volumeId: vol.volumeId,
    rockRidge,
    joliet: vol.joliet !== undefined,
    async *entries() {
      const seen = new Set<number>([rootExt.offset]);
      const stack: Array<{ ext: Extent; prefix: string; depth: number }> = [{ ext: rootExt, prefix: '', depth: 0 }];
      let count = 0;
      while (stack.length > 0) {
        const { ext, prefix, depth } = stack.pop()!;
        const children: Array<{ ext: Extent; prefix: string; depth: number }> = [];
        for (const n of await listing(ext)) {
          if (++count > MAX_ENTRIES) fail(`more than ${MAX_ENTRIES} entries`);
          const path = prefix + n.path;
          yield withPath(n, path);
          if (n.dir) {
            if (seen.has(n.dir.offset)) fail(`${path}: directory loop`);
            if (depth + 1 > MAX_DEPTH) fail(`${path}: nested deeper than ${MAX_DEPTH}`);
            seen.add(n.dir.offset);
            children.push({ ext: n.dir, prefix: `${path}/`, depth: depth + 1 });
          }
        }
        for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]!);
      }
    },
    async lookup(path) {
      const n = await find(path);
      return n && path.split('/').some((p) => p !== '') ? withPath(n, path.split('/').filter((p) => p !== '').join('/')) : undefined;
    },
    async list(path) {
      const clean = path.split('/').filter((p) => p !== '').join('/');
      const ext = clean === '' ? rootExt : (await find(clean))?.dir;
      if (!ext) return undefined;
      return (await listing(ext)).map((n) => withPath(n, clean === '' ? n.path : `${clean}/${n.path}`));
    },
  };
}

async function* readExtents(src: ByteSource, extents: Extent[]): AsyncIterable<Uint8Array> {
  for (const e of extents) {
    for (let done = 0; done < e.length; ) {
      const n = Math.min(READ_CHUNK, e.length - done);
      const chunk = await src.read(e.offset + done, n);
      if (chunk.length !== n) fail(`file data short read at ${e.offset + done}`);
      yield chunk;
      done += n;
    }
  }
}
