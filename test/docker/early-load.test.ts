import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { requireTool, runDbco, tempDir } from '../helpers/env.js';
import { fixtureMirror, writeRecipe } from './helpers/fixtures.js';
import { engineCli } from './helpers/docker-util.js';
import { ENGINES, requireEngine, type TestEngine } from './helpers/engines.js';

/**
 * The engine starts taking layers while payloads are still downloading: the install order is known once
 * the .dep walk is over, so the base and every extension below a slow one go to the engine before it
 * arrives. A mirror that holds one payload back shows it; the same hold ending in a corrupt payload shows
 * that a load started that early leaves nothing behind when the build fails.
 */
const HELD = '/6.x/x86_64/tcz/greet.tcz';
const tmp = tempDir('dbco-early-load-');
let root: string;
let server: Server;
let url: string;
/** How the held payload is answered, once released: the file, or the file with one byte flipped. */
let hold: { release: Promise<'whole' | 'corrupt'> } | undefined;

beforeAll(async () => {
  root = fixtureMirror(path.join(tmp.dir, 'mirror'));
  server = createServer((req, res) => {
    const rel = decodeURIComponent((req.url ?? '/').split('?')[0]!);
    let body: Buffer;
    try { body = readFileSync(path.join(root, path.normalize(rel).replace(/^(\.\.[/\\])+/, ''))); } catch { res.writeHead(404).end(); return; }
    const send = (b: Buffer) => { res.writeHead(200, { 'content-length': b.length }); res.end(req.method === 'HEAD' ? undefined : b); };
    if (rel !== HELD || !hold) { send(body); return; }
    void hold.release.then((how) => {
      const b = Buffer.from(body);
      if (how === 'corrupt') b[b.length - 1] ^= 0xff;
      send(b);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}, 300_000);
afterAll(async () => {
  server?.closeAllConnections();
  await new Promise<void>((r) => server?.close(() => r()));
  tmp.cleanup();
});

/** ms since start of a DBCO_TRACE_ENGINE line, or undefined when the trace has none. */
function at(trace: string, what: RegExp): number | undefined {
  const line = trace.split('\n').find((l) => /^\[\s*\d+ ms\] /.test(l) && what.test(l));
  return line ? Number(/^\[\s*(\d+) ms\]/.exec(line)![1]) : undefined;
}

describe.each(ENGINES)('a load started before the downloads are over, on $name', (engine: TestEngine) => {
  const T = `dbco-early${process.pid}-${engine.name}`;
  const { docker, removeImages } = engineCli(engine.host);
  const dir = path.join(tmp.dir, engine.name);
  let recipe: string;
  beforeAll(() => {
    requireTool('docker');
    requireEngine(engine);
    mkdirSync(dir, { recursive: true });
    recipe = writeRecipe(dir, 'early', `name: early\nrelease: "6.4.1"\narch: x86_64\nmirror: ${url}\nbase: rootfs64.gz\n` +
      `extensions: [a, greet]\nimage:\n  setup: boot\n  tag: ${T}:1\n  labels: { dbco.test.run: ${T} }\n`);
  }, 300_000);
  afterAll(() => removeImages(`${T}:1`));

  /** Builds with the held payload released (as `how`) only once the engine has been sent a first byte. */
  const buildHeld = async (how: 'whole' | 'corrupt', cache: string) => {
    let release!: (h: 'whole' | 'corrupt') => void;
    hold = { release: new Promise((r) => { release = r; }) };
    // Released anyway after a minute, so a build that never sends early still ends (and the test fails).
    const timer = setTimeout(() => release(how), 60_000);
    const r = await runDbco(['image', recipe, '--docker', '--json', '--cache', cache], {
      env: { DOCKER_HOST: engine.host, DBCO_TRACE_ENGINE: '1' },
      onStderr: (text) => { if (/\] load: first byte/.test(text)) release(how); },
    });
    clearTimeout(timer);
    hold = undefined;
    return r;
  };

  test('base and the extensions below the held one reach the engine before it is downloaded; the image is the one --output writes', async () => {
    const r = await buildHeld('whole', path.join(dir, 'cache'));
    expect(r.code, r.stderr).toBe(0);
    const order = at(r.stderr, /order known: 4 extension\(s\)/);
    const first = at(r.stderr, /load: first byte/);
    const verified = at(r.stderr, /greet\.tcz verified/);
    expect(order, r.stderr).toBeDefined();
    expect(first, r.stderr).toBeDefined();
    expect(first!, r.stderr).toBeLessThan(verified!);
    const json = JSON.parse(r.stdout) as { id: string; configDigest: string; layers: { id: string; diffId: string }[] };
    expect(json.layers.map((l) => l.id)).toEqual(['base', 'ext:c.tcz', 'ext:b.tcz', 'ext:a.tcz', 'ext:greet.tcz', 'config']);
    // What the engine holds is exactly the image: its layers, and the config digest an archive build gives.
    const inspect = JSON.parse(docker(['image', 'inspect', `${T}:1`])) as { RootFS: { Layers: string[] } }[];
    expect(inspect[0]!.RootFS.Layers).toEqual(json.layers.map((l) => l.diffId));
    const out = await runDbco(['image', recipe, '--docker', '--json', '--cache', path.join(dir, 'cache-out'), '--output', path.join(dir, 'early.tar')]);
    expect(out.code, out.stderr).toBe(0);
    expect((JSON.parse(out.stdout) as { configDigest: string }).configDigest).toBe(json.configDigest);
    expect(docker(['run', '--rm', `${T}:1`, '/usr/local/bin/prog-a'])).toContain('a-ok');
  }, 300_000);

  test('a payload failing its md5 after the load started: the build fails in one line, nothing tagged, nothing left in the engine', async () => {
    removeImages(`${T}:1`);
    // Scoped by the recipe's label (partial images carry it too): other suites load images meanwhile.
    const ours = () => docker(['images', '-a', '-q', '--no-trunc', '--filter', `label=dbco.test.run=${T}`]).split('\n').filter(Boolean).sort();
    expect(ours()).toEqual([]);
    const r = await buildHeld('corrupt', path.join(dir, 'cache-bad'));
    expect(r.code, r.stderr).toBe(1);
    expect(at(r.stderr, /load: first byte/), r.stderr).toBeDefined();
    const errors = r.stderr.split('\n').filter((l) => l.startsWith('dbco: '));
    expect(errors, r.stderr).toHaveLength(1);
    expect(errors[0]).toMatch(/greet\.tcz.*md5/i);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(docker(['images', '--format', '{{.Repository}}:{{.Tag}}']).split('\n').filter((t) => t.includes(T) || t.includes('dbco-internal'))).toEqual([]);
    expect(ours()).toEqual([]);
  }, 300_000);
});
