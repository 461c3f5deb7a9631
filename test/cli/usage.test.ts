import { afterAll, describe, expect, test } from 'vitest';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runDbco, sharedMirror, tempDir, REPO_ROOT } from '../helpers/env.js';

const M = sharedMirror();

/** Nothing a user can type wrongly may end in a stack trace (exit 70) or in the whole help again. */
function oneClearLine(r: { code: number; stderr: string }, code: number): void {
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(r.stderr).not.toContain('Usage:');
  expect(r.code).toBe(code);
}

describe('command line: usage, help, version, paths', () => {
  const t = tempDir();
  const recipe = path.join(t.dir, 'r.yaml');
  writeFileSync(recipe, 'name: r\nrelease: "6.4.1"\narch: x86_64\nbase: rootfs64.gz\n');
  afterAll(() => t.cleanup());

  test('bare dbco prints the help on stdout and exits 0; --version prints package.json\'s version', async () => {
    const r = await runDbco([]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Usage: dbco');
    const v = await runDbco(['--version']);
    expect(v.code).toBe(0);
    expect(v.stdout.trim()).toBe((JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version);
  });

  test('a usage error is one line plus where to read more, exit 2', async () => {
    const r = await runDbco(['image', recipe, '--bogus']);
    oneClearLine(r, 2);
    expect(r.stderr).toBe("dbco: unknown option '--bogus'\nsee dbco image --help\n");
    const m = await runDbco(['resolve']);
    oneClearLine(m, 2);
    expect(m.stderr).toBe("dbco: missing required argument 'recipe'\nsee dbco resolve --help\n");
    const both = await runDbco(['image', recipe]);
    oneClearLine(both, 2);
    expect(both.stderr).toMatch(/^dbco: image: give exactly one of --docker.* or --disk\nsee dbco image --help\n$/);
  });

  test('the shared flags read the same in every command', async () => {
    for (const cmd of ['resolve', 'fetch', 'lock', 'image', 'rootfs']) {
      const h = (await runDbco([cmd, '--help'])).stdout;
      expect(h, cmd).toContain('--mirror <url|dir>');
      expect(h, cmd).toContain('-q, --quiet');
      expect(h, cmd).toContain('--cache <dir>');
    }
    for (const cmd of ['image', 'boot']) expect((await runDbco([cmd, '--help'])).stdout, cmd).toContain('--memory <mib>');
  });

  test('dbco ls FOLDER, -o FOLDER, -o into a missing folder, --cache FILE: one clear line, nothing written', async () => {
    const ls = await runDbco(['ls', t.dir]);
    oneClearLine(ls, 1);
    expect(ls.stderr).toBe(`dbco: ${t.dir}: is a folder, not an archive\n`);
    const outDir = path.join(t.dir, 'out');
    mkdirSync(outDir);
    for (const args of [['rootfs', recipe, '-o', outDir], ['image', recipe, '--docker', '-o', outDir]]) {
      const r = await runDbco([...args, '--mirror', M, '--cache', path.join(t.dir, 'cache')]);
      oneClearLine(r, 2);
      expect(r.stderr).toContain(`dbco: -o ${outDir}: is a folder`);
    }
    const missing = path.join(t.dir, 'no', 'such', 'x.tar');
    const r = await runDbco(['rootfs', recipe, '-o', missing, '--mirror', M, '--cache', path.join(t.dir, 'cache')]);
    oneClearLine(r, 2);
    expect(r.stderr).toContain(`folder ${path.dirname(missing)} does not exist`);
    expect(existsSync(path.join(t.dir, 'no'))).toBe(false);
    const cacheFile = path.join(t.dir, 'cache-file');
    writeFileSync(cacheFile, 'x');
    const c = await runDbco(['fetch', recipe, '--mirror', M, '--cache', cacheFile]);
    oneClearLine(c, 2);
    expect(c.stderr).toContain(`--cache ${cacheFile}: is a file, not a folder`);
    const e = await runDbco(['fetch', recipe, '--mirror', M], { env: { DBCO_CACHE: cacheFile } });
    oneClearLine(e, 2);
    expect(e.stderr).toContain(`DBCO_CACHE ${cacheFile}: is a file`);
    expect(readdirSync(outDir)).toEqual([]);
    expect(existsSync(path.join(t.dir, 'cache'))).toBe(false);
  });

  test('rootfs takes -q like every build command: nothing on stderr', async () => {
    const out = path.join(t.dir, 'q.tar');
    const r = await runDbco(['rootfs', recipe, '-q', '-o', out, '--mirror', M, '--cache', path.join(t.dir, 'cache-q')]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(existsSync(out)).toBe(true);
  });
});
