import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { memoName, validatorDigestIn } from '../../src/recipe/load.js';
import { REPO_ROOT, sharedMirror, tempDir } from '../helpers/env.js';

/**
 * bin/dbco.js runs the esbuild bundle (dist/cli, scripts/bundle.mjs) that `npm run build` makes after
 * tsc: every suite spawning the CLI then runs the bundle. What each run loaded is recorded by a module
 * loader hook, so "the bundle ran" is read from the process, not assumed.
 */
const M = sharedMirror();
const BASE = path.join(M, '6.x/x86_64/release/distribution_files/rootfs64.gz');
const PKG = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
const DIST = pathToFileURL(path.join(REPO_ROOT, 'dist')).href;

interface Run { code: number; stdout: string; stderr: string; loaded: string[] }

describe('the bundled CLI', () => {
  const t = tempDir('dbco-bundle-');
  const hooks = path.join(t.dir, 'hooks.mjs');
  const register = path.join(t.dir, 'register.mjs');
  let recipe: string;

  /** Runs `bin` (the real one unless given) with the hook; loaded is every file: URL imported, in order. */
  const run = (args: string[], bin = path.join(REPO_ROOT, 'bin/dbco.js')): Promise<Run> => {
    const log = path.join(t.dir, `loaded-${Math.random().toString(36).slice(2)}.txt`);
    writeFileSync(log, '');
    return new Promise((resolve) => {
      execFile(process.execPath, ['--import', pathToFileURL(register).href, bin, ...args], { env: { ...process.env, DBCO_TEST_LOADED: log }, cwd: t.dir }, (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr, loaded: readFileSync(log, 'utf8').split('\n').filter(Boolean) });
      });
    });
  };
  const ours = (r: Run) => r.loaded.filter((u) => !u.startsWith(pathToFileURL(t.dir).href));

  beforeAll(() => {
    writeFileSync(hooks, [
      "import { appendFileSync } from 'node:fs';",
      'export async function load(url, context, next) {',
      "  if (url.startsWith('file:')) appendFileSync(process.env.DBCO_TEST_LOADED, url + '\\n');",
      '  return next(url, context);',
      '}',
    ].join('\n'));
    writeFileSync(register, "import { register } from 'node:module';\nregister('./hooks.mjs', import.meta.url);\n");
    recipe = path.join(t.dir, 'b.yaml');
    writeFileSync(recipe, `name: b\nrelease: "7.2"\narch: x86\nbase: {file: ${JSON.stringify(BASE)}}\nextensions: [Xprogs]\nimage: {setup: none, tag: "dbco-bundle-test:1"}\n`);
  });
  afterAll(() => t.cleanup());

  test('npm run build made it after tsc, and --version runs it: no module of dist/src, no commander from node_modules', async () => {
    expect(existsSync(path.join(REPO_ROOT, 'dist/cli/main.js'))).toBe(true);
    expect(statSync(path.join(REPO_ROOT, 'dist/cli/main.js')).mtimeMs).toBeGreaterThanOrEqual(statSync(path.join(REPO_ROOT, 'dist/src/cli/main.js')).mtimeMs);
    const r = await run(['--version']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${PKG.version}\n`); // the version the bundle was given at build time
    expect(ours(r)).toContain(`${DIST}/cli/main.js`);
    expect(ours(r).filter((u) => !u.startsWith(`${DIST}/cli/`) && !u.endsWith('/bin/dbco.js'))).toEqual([]);
  });

  test('a resolve loads only bundle chunks (yaml and zod inside them); its recipe memo has the key the unbundled build gives', async () => {
    const cache = path.join(t.dir, 'cache');
    const r = await run(['resolve', recipe, '--mirror', M, '--cache', cache]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Xprogs.tcz');
    expect(ours(r).filter((u) => !u.startsWith(`${DIST}/cli/`) && !u.endsWith('/bin/dbco.js'))).toEqual([]);
    // The bundle has no schema.js or parse.js to hash: the key is built in, and must be theirs.
    const digest = createHash('sha256').update(readFileSync(recipe)).digest('hex');
    const validator = await validatorDigestIn(path.join(REPO_ROOT, 'dist/src/recipe'), '.js');
    expect(readdirSync(path.join(cache, 'recipes'))).toEqual([memoName(digest, validator)]);
  });

  test('--sbom loads the CycloneDX library from node_modules, only then; the SBOM names dbco\'s version', async () => {
    const cache = path.join(t.dir, 'cache-sbom');
    const plain = await run(['image', recipe, '--docker', '-q', '-o', path.join(t.dir, 'a.tar'), '--mirror', M, '--cache', cache]);
    expect(plain.stderr).toBe('');
    expect(plain.code).toBe(0);
    expect(ours(plain).filter((u) => u.includes('/node_modules/'))).toEqual([]);

    const sbom = path.join(t.dir, 'a.cdx.json');
    const r = await run(['image', recipe, '--docker', '-q', '-o', path.join(t.dir, 'b.tar'), '--sbom', sbom, '--mirror', M, '--cache', cache]);
    expect(r.code).toBe(0);
    expect(ours(r).some((u) => u.includes('/node_modules/@cyclonedx/cyclonedx-library/'))).toBe(true);
    expect(ours(r).filter((u) => u.includes('/node_modules/') && !u.includes('/node_modules/@cyclonedx/cyclonedx-library/'))).toEqual([]);
    const bom = JSON.parse(readFileSync(sbom, 'utf8')) as { bomFormat: string; metadata: { tools: { components: { name: string; version: string }[] } } };
    expect(bom.bomFormat).toBe('CycloneDX');
    expect(bom.metadata.tools.components.map((c) => [c.name, c.version])).toEqual([['dbco', PKG.version]]);
  });

  test('bin falls back to tsc\'s dist/src when the bundle is missing or older than it', async () => {
    // A copy of bin beside a dist/src that is the real one and a dist/cli that is not.
    const root = path.join(t.dir, 'pkg');
    mkdirSync(path.join(root, 'bin'), { recursive: true });
    mkdirSync(path.join(root, 'dist'));
    copyFileSync(path.join(REPO_ROOT, 'bin/dbco.js'), path.join(root, 'bin/dbco.js'));
    writeFileSync(path.join(root, 'package.json'), '{"type":"module"}\n');
    symlinkSync(path.join(REPO_ROOT, 'dist/src'), path.join(root, 'dist/src'));
    const bin = path.join(root, 'bin/dbco.js');

    const missing = await run(['--version'], bin);
    expect(missing.code).toBe(0);
    expect(missing.stdout).toBe(`${PKG.version}\n`);
    expect(ours(missing)).toContain(`${DIST}/src/cli/main.js`);

    const fake = path.join(root, 'dist/cli/main.js');
    mkdirSync(path.dirname(fake));
    writeFileSync(fake, 'export async function main() { return 42; }\n');
    const compiled = statSync(path.join(REPO_ROOT, 'dist/src/cli/main.js')).mtime;
    utimesSync(fake, compiled, new Date(compiled.getTime() + 60_000));
    expect((await run(['--version'], bin)).code).toBe(42); // newer: the bundle runs

    utimesSync(fake, compiled, new Date(compiled.getTime() - 60_000));
    const stale = await run(['--version'], bin);
    expect(stale.code).toBe(0);
    expect(stale.stdout).toBe(`${PKG.version}\n`);
  });
});
