import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { onInterrupt, runCleanups } from '../../src/io/interrupt.js';
import { faultServer, type FaultServer } from '../helpers/fault-server.js';
import { REPO_ROOT, runDbco, sharedMirror, tempDir } from '../helpers/env.js';

describe('interrupt cleanups (unit)', () => {
  it('run once, newest first; a failure does not stop the others; unregistered ones never run', async () => {
    const ran: string[] = [];
    onInterrupt(() => { ran.push('a'); });
    const dropB = onInterrupt(() => { ran.push('b'); });
    onInterrupt(() => { throw new Error('boom'); }, 'fails');
    onInterrupt(async () => { await new Promise((r) => setTimeout(r, 10)); ran.push('d'); });
    dropB();
    const notes: string[] = [];
    expect(await runCleanups(5_000, (m) => notes.push(m))).toEqual([]);
    expect(ran).toEqual(['d', 'a']);
    expect(notes).toEqual(['cleanup failed: fails: boom']);
    expect(await runCleanups(5_000)).toEqual([]);
    expect(ran).toEqual(['d', 'a']);
  });

  it('bounded in time: a wedged cleanup is reported, and older ones still start after the deadline', async () => {
    const ran: string[] = [];
    onInterrupt(() => { ran.push('first'); }, 'first');
    onInterrupt(() => new Promise(() => {}), 'wedged');
    onInterrupt(() => new Promise((r) => setTimeout(r, 60_000)).then(() => ran.push('slow')), 'slow');
    expect(await runCleanups(100)).toEqual(['slow', 'wedged', 'first']);
    expect(ran).toEqual(['first']);
  });
});

/** Spawns the built CLI; resolves once `ready()` holds, so a signal lands mid-download. */
function startDbco(args: string[]) {
  const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin/dbco.js'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal, stderr }));
  });
  return { child, exited };
}

async function until(cond: () => boolean, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('dbco fetch interrupted mid-download (built CLI)', () => {
  const t = tempDir('dbco-interrupt-');
  const root = path.join(t.dir, 'mirror');
  const recipe = path.join(t.dir, 'r.yaml');
  let server: FaultServer;
  const tmpFiles = (cache: string): string[] => (existsSync(path.join(cache, 'tmp')) ? readdirSync(path.join(cache, 'tmp')) : []);

  beforeAll(async () => {
    cpSync(path.join(sharedMirror(), '7.x/x86/tcz'), path.join(root, '7.x/x86/tcz'), { recursive: true });
    mkdirSync(path.join(t.dir, 'base'));
    writeFileSync(path.join(t.dir, 'base/core.gz'), gzipSync(Buffer.alloc(0)));
    writeFileSync(recipe, 'name: irq\nrelease: "7.2"\narch: x86\nbase: {file: base/core.gz}\nextensions: [curl]\n');
    server = await faultServer(root);
  });
  afterAll(async () => { await server.close(); t.cleanup(); });

  // The stall is consumed and its temp file exists: the signal lands mid-download.
  const stalled = (cache: string) => tmpFiles(cache).length > 0 && server.requests.some((r) => r.path === '/7.x/x86/tcz/openssl.tcz' && !seen.has(r));
  const seen = new Set<object>();
  const stallOpenssl = () => server.script('/7.x/x86/tcz/openssl.tcz', [{ kind: 'stall', after: 100_000, ms: 60_000 }]);

  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    it(`${signal}: exits ${code}, one line, no temp file left`, async () => {
      const cache = path.join(t.dir, `cache-${signal}`);
      stallOpenssl();
      const run = startDbco(['fetch', recipe, '--mirror', server.url, '--cache', cache]);
      await until(() => stalled(cache), 'the stalled download');
      run.child.kill(signal);
      const r = await run.exited;
      server.requests.forEach((q) => seen.add(q));
      expect(r.code).toBe(code);
      expect(r.stderr).toContain(`dbco: ${signal}: cleaning up`);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(tmpFiles(cache)).toEqual([]);
    });
  }

  it('kill -9 leaves temp files; the next run removes them (the writer is gone) and succeeds', async () => {
    const cache = path.join(t.dir, 'cache-kill');
    stallOpenssl();
    const run = startDbco(['fetch', recipe, '--mirror', server.url, '--cache', cache]);
    await until(() => stalled(cache), 'the stalled download');
    run.child.kill('SIGKILL');
    await run.exited;
    server.requests.forEach((q) => seen.add(q));
    const left = tmpFiles(cache);
    expect(left.length).toBeGreaterThan(0);
    const r = await runDbco(['fetch', recipe, '--mirror', server.url, '--cache', cache]);
    expect(r.stderr).not.toContain('dbco:');
    expect(r.code).toBe(0);
    expect(tmpFiles(cache)).toEqual([]);
  });
});
