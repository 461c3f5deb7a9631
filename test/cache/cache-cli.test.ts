import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireTool, runDbco, sharedMirror, tempDir } from '../helpers/env.js';

const DIR = '7.x/x86/tcz';
const DAY = 24 * 3600 * 1000;

/** Every file under `dir` (recursively) gets mtime `ms` ago: as if last used then. */
function age(dir: string, ms: number): void {
  if (!existsSync(dir)) return;
  const when = new Date(Date.now() - ms);
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) utimesSync(path.join(e.parentPath, e.name), when, when);
  }
}

describe('dbco cache ls | verify | gc (built CLI)', () => {
  const t = tempDir('dbco-cachecli-');
  const mirror = path.join(t.dir, 'mirror');
  const recipe = path.join(t.dir, 'r.yaml');
  const cache = path.join(t.dir, 'cache');
  const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');

  beforeAll(() => {
    requireTool('cpio');
    cpSync(path.join(sharedMirror(), DIR), path.join(mirror, DIR), { recursive: true });
    const stage = path.join(t.dir, 'base');
    mkdirSync(path.join(stage, 'etc'), { recursive: true });
    writeFileSync(path.join(t.dir, 'core.gz'), execFileSync('sh', ['-c', 'find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -n'], { cwd: stage }));
    writeFileSync(recipe, 'name: gc\nrelease: "7.2"\narch: x86\nbase: {file: core.gz}\nextensions: [curl]\nimage: {tag: "gc:1", setup: none}\n');
  });
  afterAll(() => t.cleanup());

  const build = (out: string) => runDbco(['image', recipe, '--docker', '--output', out, '--mirror', mirror, '--cache', cache, '-q']);

  it('ls shows blobs, metadata, derived layers with sizes; verify re-hashes them and names a corrupt blob', async () => {
    expect((await build(path.join(t.dir, 'a.tar'))).code).toBe(0);
    const ls = await runDbco(['cache', 'ls', '--cache', cache]);
    expect(ls.code).toBe(0);
    expect(ls.stdout).toMatch(/^blobs\s+[1-9]\d*\s+[\d.]+ (KiB|MiB)$/m);
    expect(ls.stdout).toMatch(/^derived layers\s+[1-9]\d*\s+/m);
    expect(ls.stdout).toMatch(/^total\s+/m);
    const ok = await runDbco(['cache', 'verify', '--cache', cache]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^[1-9]\d* checked, 0 corrupt$/m);
    const blobs = path.join(cache, 'blobs/sha256');
    const victim = path.join(blobs, readdirSync(blobs)[0]!);
    chmodSync(victim, 0o644);
    const bytes = readFileSync(victim);
    bytes[0] ^= 1;
    writeFileSync(victim, bytes);
    const bad = await runDbco(['cache', 'verify', '--cache', cache]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(`dbco: corrupt: ${victim}: sha256 `);
    bytes[0] ^= 1;
    writeFileSync(victim, bytes);
  });

  it('gc removes what was not used for --keep-days, keeps what a --lock names, and --max-size trims the least recent', async () => {
    expect((await runDbco(['lock', recipe, '--mirror', mirror, '--cache', cache])).code).toBe(0);
    const lock = JSON.parse(readFileSync(path.join(t.dir, 'r.lock.json'), 'utf8')) as { extensions: { sha256: string }[] };
    age(cache, 40 * DAY);
    const kept = await runDbco(['cache', 'gc', '--keep-days', '30', '--lock', path.join(t.dir, 'r.lock.json'), '--cache', cache]);
    expect(kept.code, kept.stderr).toBe(0);
    const blobs = readdirSync(path.join(cache, 'blobs/sha256'));
    for (const e of lock.extensions) expect(blobs).toContain(e.sha256);
    expect(existsSync(path.join(cache, 'derived/layers')) ? readdirSync(path.join(cache, 'derived/layers')) : []).toEqual([]);
    const none = await runDbco(['cache', 'gc', '--keep-days', '30', '--max-size', '0', '--cache', cache]);
    expect(none.code).toBe(0);
    expect(readdirSync(path.join(cache, 'blobs/sha256'))).toEqual([]);
    // After gc the next build fetches and derives again, and gives the same archive.
    expect((await build(path.join(t.dir, 'b.tar'))).code).toBe(0);
    expect(sha(path.join(t.dir, 'b.tar'))).toBe(sha(path.join(t.dir, 'a.tar')));
  });

  it('gc beside a running build: the build succeeds with the same bytes; blobs and layers wait for a later gc', async () => {
    age(cache, 40 * DAY);
    const running = build(path.join(t.dir, 'c.tar'));
    const gcs: Awaited<ReturnType<typeof runDbco>>[] = [];
    for (let i = 0; i < 3; i++) gcs.push(await runDbco(['cache', 'gc', '--keep-days', '0', '--cache', cache]));
    const r = await running;
    expect(r.code, r.stderr).toBe(0);
    expect(sha(path.join(t.dir, 'c.tar'))).toBe(sha(path.join(t.dir, 'a.tar')));
    for (const g of gcs) expect(g.code).toBe(0);
    // The build is gone: an aged cache is pruned for real now.
    age(cache, 40 * DAY);
    const after = await runDbco(['cache', 'gc', '--keep-days', '30', '--cache', cache]);
    expect(after.stdout).not.toContain('not considered');
    expect(readdirSync(path.join(cache, 'blobs/sha256'))).toEqual([]);
    expect(statSync(cache).isDirectory()).toBe(true);
  });
});
