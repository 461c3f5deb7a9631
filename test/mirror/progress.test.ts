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
