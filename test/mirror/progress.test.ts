import { cpSync } from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cache } from '../../src/cache/index.js';
import { consoleLogger } from '../../src/io/console-logger.js';
import { openMirror } from '../../src/mirror/index.js';
import { serveFolder } from '../helpers/static-server.js';
import { sharedMirror, tempDir } from '../helpers/env.js';

function fakeStream(tty: boolean): { stream: NodeJS.WriteStream; text: () => string } {
  const s = new PassThrough();
  let out = '';
  s.on('data', (d: Buffer) => (out += d.toString()));
  return { stream: Object.assign(s, { isTTY: tty }) as unknown as NodeJS.WriteStream, text: () => out };
}

describe('download progress', () => {
  let tmp: ReturnType<typeof tempDir>;
  let server: Awaited<ReturnType<typeof serveFolder>>;
  const rels = ['gtk2.tcz', 'curl.tcz', 'atk.tcz'].map((n) => `7.x/x86/tcz/${n}`);

  beforeAll(async () => {
    tmp = tempDir('dbco-progress-');
    cpSync(path.join(sharedMirror(), '7.x/x86/tcz'), path.join(tmp.dir, 'm/7.x/x86/tcz'), { recursive: true });
    server = await serveFolder(path.join(tmp.dir, 'm'));
  });
  afterAll(async () => {
    await server.close();
    tmp.cleanup();
  });

  it('on a TTY: one line rewritten in place with files done and bytes/total, no per-file lines', async () => {
    const { stream, text } = fakeStream(true);
    const m = openMirror(server.url, { cache: new Cache(path.join(tmp.dir, 'c1')), log: consoleLogger(stream), tty: true });
    await Promise.all(rels.map((r) => m.fetch(r)));
    const out = text();
    expect(out).not.toContain('\n');
    expect(out).toContain('\r\x1b[Kfetch 3/3 files');
    expect(out).toMatch(/MiB\/\d+\.\d MiB/);
  });

  it('a TTY with a logger that cannot draw progress still gets one line per file', async () => {
    const lines: string[] = [];
    const m = openMirror(server.url, { cache: new Cache(path.join(tmp.dir, 'c3')), log: { info: (l) => lines.push(l), warn: () => undefined }, tty: true });
    await Promise.all(rels.map((r) => m.fetch(r)));
    expect(lines).toHaveLength(3);
  });

  it('not a TTY: one plain line per fetched file and no control characters', async () => {
    const { stream, text } = fakeStream(false);
    const m = openMirror(server.url, { cache: new Cache(path.join(tmp.dir, 'c2')), log: consoleLogger(stream), tty: false });
    await Promise.all(rels.map((r) => m.fetch(r)));
    const lines = text().trimEnd().split('\n').sort();
    expect(lines).toHaveLength(3);
    for (const l of lines) expect(l).toMatch(new RegExp(`^fetched ${server.url}/7\\.x/x86/tcz/\\w+\\.tcz \\(\\d+ bytes\\)$`));
    expect(text()).not.toContain('\r');
  });
});

describe('download progress in a pipe (CI log)', () => {
  it('a plain line at most every 5 s while bytes flow, none once every file is done', async () => {
    const { FetchProgress } = await import('../../src/mirror/progress.js');
    const lines: string[] = [];
    let t = 0;
    const p = new FetchProgress({ info: (m) => lines.push(m), warn: () => {} }, false, () => t);
    p.start();
    p.announce(8 * 1048576);
    t = 1000;
    p.bytes(1048576);
    expect(lines).toEqual([]);
    t = 5000;
    p.bytes(1048576);
    expect(lines).toEqual(['fetching: 0/1 files done, 2.0 MiB of 8.0 MiB']);
    t = 7000;
    p.bytes(1048576);
    expect(lines).toHaveLength(1);
    t = 10_000;
    p.bytes(1048576);
    expect(lines.at(-1)).toBe('fetching: 0/1 files done, 4.0 MiB of 8.0 MiB');
    p.done('http://m/x.tcz', 8 * 1048576, true);
    expect(lines.at(-1)).toBe('fetched http://m/x.tcz (8388608 bytes)');
    t = 20_000;
    p.bytes(0);
    expect(lines).toHaveLength(3);
  });
});
