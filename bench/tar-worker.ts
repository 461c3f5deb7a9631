/**
 * Child process of bench/tar.ts, so each contender's peak RSS is its own (run under /usr/bin/time).
 *   prepare OUT TCZ... : layer inputs: one manifest per real tcz plus a generated one that needs PAX
 *                        (long names, non-ASCII, big ids, long link targets), hard links and devices;
 *                        file bodies as files under OUT/bodies, shared by both writers.
 *   write dbco|tar-stream MANIFESTS OUTDIR : every layer as a deterministic tar (mtime 0)
 *   read dbco|tar-stream TARDIR            : every tar read back, bodies hashed
 * Prints JSON: {ms, digests: {layer: sha256}}; for read, the digest is over a canonical entry listing.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import tarStream from 'tar-stream';
import type { Entry, EntryKind, EntryMeta } from '../src/formats/entry.js';
import { safePath, SymlinkGuard } from '../src/formats/path.js';
import { openSquashfs } from '../src/formats/squashfs/index.js';
import { readTar, writeTar } from '../src/formats/tar/index.js';
import { planEntries } from '../src/formats/write-plan.js';
import { openFileSource } from '../src/io/file-source.js';

interface ManifestEntry { meta: EntryMeta; body?: string }

const [task, a, b, ...rest] = process.argv.slice(2);

async function prepare(out: string, tczs: string[]): Promise<void> {
  const bodies = path.join(out, 'bodies');
  mkdirSync(bodies, { recursive: true });
  mkdirSync(path.join(out, 'manifests'), { recursive: true });
  const store = (data: Uint8Array): string => {
    const p = path.join(bodies, createHash('sha256').update(data).digest('hex'));
    writeFileSync(p, data);
    return p;
  };
  for (const tcz of tczs) {
    const src = await openFileSource(tcz);
    const list: ManifestEntry[] = [];
    try {
      const fs = await openSquashfs(src);
      for await (const entry of fs.entries()) {
        const { open: read, ...meta } = entry;
        if (!read) { list.push({ meta }); continue; }
        const parts: Uint8Array[] = [];
        for await (const c of read()) parts.push(c);
        list.push({ meta, body: store(Buffer.concat(parts)) });
      }
    } finally {
      await src.close();
    }
    // A meta-extension (only dependencies, no files) is an empty layer: nothing to compare.
    if (list.length === 0) continue;
    const [major, arch] = tcz.split('/').slice(-4, -2);
    writeFileSync(path.join(out, 'manifests', `${major}-${arch}-${path.basename(tcz)}.json`), JSON.stringify(list));
  }
  writeFileSync(path.join(out, 'manifests', 'generated-pax.json'), JSON.stringify(paxLayer(store)));
}

/** What only PAX (or GNU) headers can carry, and the links and devices a rootfs has. */
function paxLayer(store: (d: Uint8Array) => string): ManifestEntry[] {
  const m = (p: string, kind: EntryKind, extra: Partial<EntryMeta> = {}): EntryMeta => ({ path: p, kind, mode: kind === 'dir' ? 0o755 : 0o644, uid: 0, gid: 0, mtime: 0, size: 0, ...extra });
  const big = new Uint8Array(20 * 2 ** 20);
  let x = 1;
  for (let i = 0; i < big.length; i++) { x = (x * 1103515245 + 12345) >>> 0; big[i] = x >>> 24; }
  const deep = `pax/${'d'.repeat(120)}/${'e'.repeat(120)}`;
  const out: ManifestEntry[] = [
    { meta: m('pax', 'dir') },
    { meta: m(`pax/${'d'.repeat(120)}`, 'dir') },
    { meta: m(deep, 'dir') },
    { meta: m(`${deep}/${'f'.repeat(90)}.txt`, 'file', { size: 5 }), body: store(Buffer.from('deep\n')) },
    { meta: m('pax/ünïcødé-名前.txt', 'file', { size: 8 }), body: store(Buffer.from('unicode\n')) },
    { meta: m('pax/big-ids', 'file', { uid: 3_000_000, gid: 4_000_000, size: 4 }), body: store(Buffer.from('ids\n')) },
    { meta: m('pax/big-file', 'file', { size: big.length }), body: store(big) },
    { meta: m('pax/hl-a', 'file', { size: 6, mode: 0o755 }), body: store(Buffer.from('linked')) },
    { meta: m('pax/hl-b', 'hardlink', { linkname: 'pax/hl-a' }) },
    { meta: m('pax/long-link', 'symlink', { mode: 0o777, linkname: `/usr/local/${'l'.repeat(150)}` }) },
    { meta: m('pax/null', 'char', { mode: 0o666, devmajor: 1, devminor: 3 }) },
    { meta: m('pax/sda', 'block', { mode: 0o660, devmajor: 8, devminor: 0 }) },
    { meta: m('pax/fifo', 'fifo') },
  ];
  return out;
}

function manifests(dir: string): [string, Entry[]][] {
  return readdirSync(dir).sort().map((f) => {
    const list = JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as ManifestEntry[];
    const entries = list.map(({ meta, body }): Entry => (body ? { ...meta, open: () => createReadStream(body) } : meta));
    return [f.replace(/\.json$/, ''), entries];
  });
}

async function sink(file: string, chunks: AsyncIterable<Uint8Array>): Promise<string> {
  const hash = createHash('sha256');
  const fh = await open(file, 'w');
  try {
    for await (const c of chunks) {
      hash.update(c);
      await fh.write(c);
    }
  } finally {
    await fh.close();
  }
  return hash.digest('hex');
}

const TS_TYPE: Partial<Record<EntryKind, tarStream.Headers['type']>> = { file: 'file', dir: 'directory', symlink: 'symlink', char: 'character-device', block: 'block-device', fifo: 'fifo' };

/** tar-stream's pack fed the same plan (sorted, hard links first member first) as ours. */
async function* packWithTarStream(entries: Entry[]): AsyncGenerator<Uint8Array> {
  const plan = await planEntries(entries, 'tar');
  const pack = tarStream.pack();
  const feed = (async () => {
    for (const { entry: e, linkTo } of plan) {
      if (e.kind === 'socket') continue;
      const header: tarStream.Headers = {
        name: e.path, mode: e.mode & 0o7777, uid: e.uid, gid: e.gid, mtime: new Date(0),
        type: linkTo !== undefined ? 'link' : TS_TYPE[e.kind]!, size: linkTo === undefined && e.kind === 'file' ? e.size : 0,
        ...(linkTo !== undefined ? { linkname: linkTo } : e.linkname ? { linkname: e.linkname } : {}),
        ...(e.kind === 'char' || e.kind === 'block' ? { devmajor: e.devmajor ?? 0, devminor: e.devminor ?? 0 } : {}),
      };
      if (header.type === 'file' && e.open) {
        let done!: Promise<void>;
        const s = (() => {
          let settle!: (err?: Error | null) => void;
          done = new Promise<void>((resolve, reject) => { settle = (err) => (err ? reject(err) : resolve()); });
          return pack.entry(header, (err) => settle(err));
        })();
        for await (const c of e.open()) if (!s.write(c)) await once(s, 'drain');
        s.end();
        await done;
      } else {
        await new Promise<void>((resolve, reject) => pack.entry(header, (err) => (err ? reject(err) : resolve())));
      }
    }
    pack.finalize();
  })();
  feed.catch(() => {});
  for await (const c of pack as AsyncIterable<Uint8Array>) yield c;
  await feed;
}

function line(e: EntryMeta, sha: string): string {
  return [e.path, e.kind, e.mode.toString(8), e.uid, e.gid, e.mtime, e.size, e.linkname ?? '', e.devmajor ?? '', e.devminor ?? '', sha].join('\t');
}

async function readWithDbco(file: string): Promise<string> {
  const all = createHash('sha256');
  for await (const { entry, body } of readTar(createReadStream(file))) {
    const h = createHash('sha256');
    for await (const c of body) h.update(c);
    all.update(`${line(entry, h.digest('hex'))}\n`);
  }
  return all.digest('hex');
}

const TS_KIND: Record<string, EntryKind> = { file: 'file', 'contiguous-file': 'file', directory: 'dir', symlink: 'symlink', link: 'hardlink', 'character-device': 'char', 'block-device': 'block', fifo: 'fifo' };

/** tar-stream's extract plus what a dbco reader must add: safe paths, the symlink guard, PAX ids and mtime. */
async function readWithTarStream(file: string): Promise<string> {
  const all = createHash('sha256');
  const guard = new SymlinkGuard();
  const extract = tarStream.extract();
  createReadStream(file).pipe(extract);
  for await (const entry of extract as AsyncIterable<tarStream.Entry>) {
    const h = entry.header;
    const kind = TS_KIND[h.type ?? 'file'];
    if (!kind) throw new Error(`${h.name}: type ${h.type}`);
    const p = safePath(h.name);
    const pax = (h as { pax?: Record<string, string> }).pax ?? {};
    const hash = createHash('sha256');
    for await (const c of entry as AsyncIterable<Uint8Array>) hash.update(c);
    if (p === '') continue;
    guard.check(p, kind);
    const meta: EntryMeta = {
      path: p, kind, mode: (h.mode ?? 0) & 0o7777,
      uid: pax.uid ? Number(pax.uid) : h.uid ?? 0, gid: pax.gid ? Number(pax.gid) : h.gid ?? 0,
      mtime: pax.mtime ? Math.trunc(Number(pax.mtime)) : Math.trunc((h.mtime?.getTime() ?? 0) / 1000),
      size: kind === 'file' ? h.size ?? 0 : 0,
      ...(kind === 'symlink' ? { linkname: h.linkname ?? '' } : kind === 'hardlink' ? { linkname: safePath(h.linkname ?? '') } : {}),
      ...(kind === 'char' || kind === 'block' ? { devmajor: h.devmajor ?? 0, devminor: h.devminor ?? 0 } : {}),
    };
    all.update(`${line(meta, hash.digest('hex'))}\n`);
  }
  return all.digest('hex');
}

/** A tar whose first member is a PAX header declaring 256 MiB: what a reader holds before it can refuse. */
async function* hostileTar(): AsyncGenerator<Uint8Array> {
  const size = 256 * 2 ** 20;
  const h = new Uint8Array(512);
  const put = (at: number, text: string): void => { h.set(Buffer.from(text), at); };
  put(0, 'PaxHeaders/x');
  put(100, '0000644\0');
  put(108, '0000000\0');
  put(116, '0000000\0');
  put(124, `${size.toString(8).padStart(11, '0')}\0`);
  put(136, '00000000000\0');
  put(156, 'x');
  put(257, 'ustar\0');
  put(263, '00');
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : h[i]!;
  put(148, `${sum.toString(8).padStart(6, '0')}\0 `);
  yield h;
  const chunk = new Uint8Array(2 ** 20).fill(0x39);
  for (let i = 0; i < size / chunk.length; i++) yield chunk.slice();
}

async function hostile(who: string): Promise<string> {
  try {
    if (who === 'dbco') {
      for await (const { body } of readTar(hostileTar())) for await (const _ of body);
    } else {
      const extract = tarStream.extract();
      Readable.from(hostileTar()).pipe(extract);
      for await (const entry of extract as AsyncIterable<tarStream.Entry>) for await (const _ of entry as AsyncIterable<Uint8Array>);
    }
    return 'read to the end';
  } catch (err) {
    return `refused: ${(err as Error).message.slice(0, 120)}`;
  }
}

const started = performance.now();
const digests: Record<string, string> = {};
if (task === 'prepare') {
  await prepare(a!, [b!, ...rest]);
} else if (task === 'write') {
  const [who, dir, outDir] = [a!, b!, rest[0]!];
  mkdirSync(outDir, { recursive: true });
  for (const [name, entries] of manifests(dir)) {
    const chunks = who === 'dbco' ? writeTar(entries, { mtime: 0 }) : packWithTarStream(entries);
    digests[name] = await sink(path.join(outDir, `${name}.tar`), chunks);
  }
} else if (task === 'read') {
  const [who, dir] = [a!, b!];
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.tar')).sort()) {
    digests[f] = await (who === 'dbco' ? readWithDbco : readWithTarStream)(path.join(dir, f));
  }
} else if (task === 'hostile') {
  digests.result = await hostile(a!);
} else {
  throw new Error(`unknown task ${task}`);
}
process.stdout.write(`${JSON.stringify({ ms: Math.round(performance.now() - started), digests })}\n`);
