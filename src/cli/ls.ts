import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Command } from 'commander';
import { DbcoError } from '../errors.js';
import { listLine } from '../formats/archive-list.js';
import { isCpioMagic, readCpio } from '../formats/cpio/index.js';
import type { Entry, EntryMeta } from '../formats/entry.js';
import { gunzipChunks, isGzipMagic } from '../formats/gzip.js';
import { openSquashfs } from '../formats/squashfs/index.js';
import { readAhead } from '../formats/read-ahead.js';
import type { StreamEntry } from '../formats/stream-reader.js';
import { readTar } from '../formats/tar/index.js';
import { looksLikeTar } from '../formats/tar/header.js';
import { sharedBlockPool } from '../io/block-pool.js';
import { openFileSource } from '../io/file-source.js';

async function* fileChunks(file: string): AsyncGenerator<Uint8Array> {
  for await (const b of createReadStream(file, { highWaterMark: 256 * 1024 })) yield b as Buffer;
}

/** Splits off the first `n` bytes of a stream for format sniffing, then replays them. */
async function peek(chunks: AsyncIterable<Uint8Array>, n: number): Promise<{ head: Uint8Array; chunks: AsyncIterable<Uint8Array> }> {
  const it = chunks[Symbol.asyncIterator]();
  const seen: Uint8Array[] = [];
  let have = 0;
  while (have < n) {
    const r = await it.next();
    if (r.done) break;
    seen.push(r.value);
    have += r.value.length;
  }
  const head = Buffer.concat(seen).subarray(0, n);
  async function* replay(): AsyncGenerator<Uint8Array> {
    yield* seen;
    for (let r = await it.next(); !r.done; r = await it.next()) yield r.value;
  }
  return { head, chunks: replay() };
}

function streamOf(file: string, head: Uint8Array, chunks: AsyncIterable<Uint8Array>): AsyncIterable<StreamEntry> {
  if (isCpioMagic(head)) return readCpio(chunks);
  if (looksLikeTar(head)) return readTar(chunks);
  throw new DbcoError('FORMAT_UNKNOWN', `${file}: not a squashfs, cpio, tar, or gzip'd cpio/tar archive`);
}

/**
 * Every entry of the archive at `file`, whatever its format (detected by magic, not by name). With
 * `bodies`, a squashfs's upcoming small files are read ahead while the current one is hashed.
 */
async function* entriesOf(file: string, bodies: boolean): AsyncGenerator<StreamEntry> {
  if ((await stat(file).catch(() => null))?.isDirectory()) throw new DbcoError('IO', `${file}: is a folder, not an archive`);
  const src = await openFileSource(file).catch((err: NodeJS.ErrnoException) => {
    throw new DbcoError('IO', `${file}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`);
  });
  let head: Uint8Array;
  try {
    head = await src.read(0, 512);
    if (head.length >= 4 && Buffer.from(head.subarray(0, 4)).toString('latin1') === 'hsqs') {
      // Listing alone reads no file data: the worker pool is started only when bodies are hashed.
      const fs = await openSquashfs(src, { readBlockRun: bodies ? sharedBlockPool()?.forFile(file) : undefined });
      if (bodies) yield* readAhead(fs.entries());
      else for await (const e of fs.entries()) yield { entry: e, body: e.open ? e.open() : (async function* () {})() };
      return;
    }
  } finally {
    await src.close();
  }
  if (isGzipMagic(head)) {
    const p = await peek(gunzipChunks(fileChunks(file)), 512);
    yield* streamOf(file, p.head, p.chunks);
  } else {
    yield* streamOf(file, head, fileChunks(file));
  }
}

async function write(s: string): Promise<void> {
  if (!process.stdout.write(s)) await new Promise<void>((r) => process.stdout.once('drain', r));
}

export async function listArchive(file: string, json: boolean): Promise<void> {
  // `dbco ls X | head` closes the pipe early: that is the reader being done, not a failure.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  const shaByPath = new Map<string, string>();
  let buf = '';
  for await (const { entry, body } of entriesOf(file, json)) {
    if (!json) {
      buf += `${listLine(entry)}\n`;
    } else {
      const rec: Record<string, unknown> = pick(entry);
      if (entry.kind === 'file') {
        const h = createHash('sha256');
        for await (const b of body) h.update(b);
        rec.sha256 = h.digest('hex');
        shaByPath.set(entry.path, rec.sha256 as string);
      } else if (entry.kind === 'hardlink' && shaByPath.has(entry.linkname!)) {
        rec.sha256 = shaByPath.get(entry.linkname!);
      }
      buf += `${JSON.stringify(rec)}\n`;
    }
    if (buf.length > 64 * 1024) {
      await write(buf);
      buf = '';
    }
  }
  if (buf) await write(buf);
}

function pick(e: EntryMeta | Entry): Record<string, unknown> {
  const rec: Record<string, unknown> = { path: e.path, kind: e.kind, mode: e.mode, uid: e.uid, gid: e.gid, size: e.size, mtime: e.mtime };
  if (e.linkname !== undefined) rec.linkname = e.linkname;
  if (e.kind === 'char' || e.kind === 'block') {
    rec.devmajor = e.devmajor;
    rec.devminor = e.devminor;
  }
  return rec;
}

export function registerLs(program: Command): void {
  program
    .command('ls')
    .description('List an archive (squashfs .tcz, gzip\'d or raw cpio, tar) like unsquashfs -lln / cpio -tv')
    .argument('<archive>', 'archive file; the format is detected from its first bytes')
    .option('--json', 'one JSON object per entry, with the sha256 of each file\'s contents')
    .action(async (archive: string, opts: { json?: boolean }) => {
      await listArchive(archive, Boolean(opts.json));
    });
}
