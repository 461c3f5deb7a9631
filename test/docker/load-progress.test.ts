import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { cpSync, mkdirSync, copyFileSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { execSync } from 'node:child_process';
import path from 'node:path';
import { requireTool, runDbco, sharedMirror, tempDir } from '../helpers/env.js';
import { LoadProgress } from '../../src/outputs/docker/load-progress.js';
import { parseLoadStream } from '../../src/outputs/docker/load-stream.js';
import { writeMd5, writeRecipe } from './helpers/fixtures.js';
import { engineCli } from './helpers/docker-util.js';
import { ENGINES, requireEngine, type TestEngine } from './helpers/engines.js';

describe('load progress: own logic', () => {
  const MiB = 1048576;
  test('in a pipe: at most one line every 5 s while loading (layers and bytes over every load), one at the end', () => {
    let t = 0;
    const lines: string[] = [];
    const p = new LoadProgress({ info: (m) => lines.push(m), warn: () => {} }, false, 'Docker 1.0 (x) at unix:///s', () => t);
    p.summary();
    expect(lines).toEqual([]); // nothing loaded, nothing said
    p.begin([2 * MiB, MiB]);
    p.bytes(MiB);
    t = 4999; p.bytes(MiB + 100);
    expect(lines).toEqual([]);
    t = 5000; p.tick();
    expect(lines.at(-1)).toBe('loading into Docker 1.0 (x) at unix:///s: 1/2 layers sent (2.0 of 3.0 MiB)');
    t = 6000; p.bytes(3 * MiB); p.end();
    p.begin([MiB]); // a second load: the same account
    p.engineLayer('aa', 5, 5);
    expect(lines).toHaveLength(1);
    t = 10000; p.tick(); // a silent engine: the timer's tick still gives a line
    expect(lines.at(-1)).toBe('loading into Docker 1.0 (x) at unix:///s: 2/3 layers sent (3.0 of 4.0 MiB), 1 registered by the engine');
    p.bytes(MiB);
    t = 15000; p.tick();
    expect(lines.at(-1)).toBe('loading into Docker 1.0 (x) at unix:///s: 3/3 layers sent (4.0 of 4.0 MiB), 1 registered by the engine');
    t = 16000; p.end();
    p.summary();
    expect(lines.at(-1)).toBe('loaded 3 layer(s), 4.0 MiB, into Docker 1.0 (x) at unix:///s in 2 load(s), 16.0 s');
  });

  test('on a TTY: the progress line, no plain lines but the summary', () => {
    let t = 0;
    const lines: string[] = [];
    const bars: [string, number, number | undefined][] = [];
    const p = new LoadProgress({ info: (m) => lines.push(m), warn: () => {}, progress: (l, d, n) => bars.push([l, d, n]) }, true, 'E', () => t);
    p.begin([10, 10]);
    t = 200; p.bytes(15);
    t = 10000; p.tick();
    expect(lines).toEqual([]);
    expect(bars).toEqual([['loading 1/2 layers into E', 15, 20], ['loading 1/2 layers into E', 15, 20]]);
  });

  test("dockerd's 'Loading layer' lines reach the progress; they are not messages", async () => {
    const seen: string[] = [];
    const stream = async function* () {
      yield '{"status":"Loading layer","progressDetail":{"current":5,"total":10},"id":"ab"}\n';
      yield '{"status":"Loading layer","progressDetail":{"current":10,"total":10},"id":"ab"}\n{"stream":"Loaded image: x:1\\n"}\n';
    };
    const r = await parseLoadStream(stream(), (m) => new Error(m), (id, c, n) => seen.push(`${id} ${c}/${n}`));
    expect(seen).toEqual(['ab 5/10', 'ab 10/10']);
    expect(r.messages).toEqual(['Loaded image: x:1']);
  });
});

/**
 * A unix-socket front for an engine that passes what dbco sends at most `bytesPerSecond`: a load of
 * N MiB then lasts at least N / rate seconds, whatever the machine's speed, so the periodic lines must
 * appear.
 */
async function throttledFront(upstreamPath: string, frontPath: string, bytesPerSecond: number): Promise<{ close: () => void }> {
  const server = net.createServer((client) => {
    const upstream = net.connect(upstreamPath);
    client.on('data', (chunk: Buffer) => {
      client.pause();
      upstream.write(chunk);
      setTimeout(() => client.resume(), (chunk.length / bytesPerSecond) * 1000);
    });
    client.on('end', () => upstream.end());
    upstream.pipe(client);
    const end = (): void => { client.destroy(); upstream.destroy(); };
    client.on('error', end);
    upstream.on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(frontPath, resolve));
  return { close: () => server.close() };
}

/**
 * Through a pipe (as in CI), on a recipe of 57 layers (TC 7.x x86: gtk2, Xprogs, curl, gnupg and their
 * dependencies over a small core.gz, ~23 MiB of layers), each engine behind a front passing 2 MiB/s:
 * progress lines while the engine loads, and one summary line.
 */
describe.each(ENGINES)('dbco image --docker through a pipe on $name: load progress lines', (e: TestEngine) => {
  const tmp = tempDir('dbco-load-progress-');
  const cli = engineCli(e.host);
  const tag = `dbco-load-progress-${e.name}:${process.pid}`;
  beforeAll(() => {
    requireEngine(e);
    for (const t of ['cpio', 'gzip']) requireTool(t);
    const root = path.join(tmp.dir, 'mirror');
    cpSync(path.join(sharedMirror(), '7.x/x86/tcz'), path.join(root, '7.x/x86/tcz'), { recursive: true });
    const base = path.join(tmp.dir, 'base');
    mkdirSync(path.join(base, 'bin'), { recursive: true });
    writeFileSync(path.join(base, 'bin/run'), `${tag}\n`); // an image of this run only: the engine has none of it
    copyFileSync(requireTool('busybox'), path.join(base, 'bin/busybox'));
    symlinkSync('busybox', path.join(base, 'bin/sh'));
    const dist = path.join(root, '7.x/x86/release/distribution_files');
    mkdirSync(dist, { recursive: true });
    execSync(`cd ${base} && find . -mindepth 1 | sort | cpio -o -H newc --quiet | gzip -9n > ${dist}/core.gz`);
    writeMd5(path.join(dist, 'core.gz'));
  }, 120_000);
  afterAll(() => { cli.removeImages(tag); tmp.cleanup(); });

  test('lines of layers and MiB sent while loading, and a summary naming the engine', async () => {
    const recipe = writeRecipe(tmp.dir, 'big', `name: big\nrelease: "7.2"\narch: x86\nmirror: ${path.join(tmp.dir, 'mirror')}\nbase: core.gz\n` +
      `extensions: [gtk2, Xprogs, curl, gnupg, imlib2-bin, wbar, aterm, fltk-1.3]\nimage:\n  setup: none\n  tag: ${tag}\n`);
    const sock = path.join(tmp.dir, 'slow.sock');
    const front = await throttledFront(e.host.replace(/^unix:\/\//, ''), sock, 2 * 1048576);
    let r: Awaited<ReturnType<typeof runDbco>>;
    try {
      r = await runDbco(['image', recipe, '--docker', '--cache', path.join(tmp.dir, 'cache')], { env: { DOCKER_HOST: `unix://${sock}` } });
    } finally {
      front.close();
    }
    expect(r.stderr).not.toContain('\r'); // a pipe: plain lines only
    expect(r.code).toBe(0);
    const lines = r.stderr.split('\n');
    const layers = Number(/^(\d+) layer\(s\): base,/m.exec(r.stderr)?.[1]);
    expect(layers).toBeGreaterThanOrEqual(50);
    const engineName = new RegExp(`${e.expect.source.replace(/\^/g, '')}.* at unix://${sock.replace(/[.]/g, '\\.')}`);
    const progress = lines.filter((l) => l.startsWith('loading into '));
    expect(progress.length).toBeGreaterThanOrEqual(1);
    for (const l of progress) {
      expect(l).toMatch(engineName);
      expect(l).toMatch(new RegExp(`: \\d+/\\d+ layers sent \\([\\d.]+ of [\\d.]+ MiB\\)`));
    }
    const summary = lines.filter((l) => /^loaded \d+ layer\(s\), /.test(l));
    expect(summary).toHaveLength(1);
    expect(summary[0]).toMatch(new RegExp(`^loaded ${layers} layer\\(s\\), [\\d.]+ MiB, into .* in \\d+ load\\(s\\), [\\d.]+ s$`));
    expect(summary[0]).toMatch(engineName);
    expect(cli.imageTags()).toContain(tag);
  }, 600_000);
});
