import { describe, expect, test, afterAll } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { sharedMirror, requireTool, tempDir } from '../helpers/env.js';
import { resolveExtensions } from '../../src/resolve/resolver.js';
import { parseDepText } from '../../src/resolve/dep-file.js';
import { formatTree } from '../../src/resolve/tree.js';
import { ResolveError } from '../../src/errors.js';
import { folderDeps, shellWalk } from './walk-helpers.js';

requireTool('sh');
requireTool('sed');
const M = sharedMirror();

const cases: { name: string; dir: string; exts: string[]; kv?: string; min: number }[] = [
  { name: '7.x/x86 gtk2', dir: '7.x/x86/tcz', exts: ['gtk2'], min: 30 },
  { name: '7.x/x86 curl', dir: '7.x/x86/tcz', exts: ['curl.tcz'], min: 3 },
  { name: '7.x/x86 gnupg', dir: '7.x/x86/tcz', exts: ['gnupg'], min: 5 },
  { name: '7.x/x86 gtk2+curl+gnupg', dir: '7.x/x86/tcz', exts: ['gtk2', 'curl', 'gnupg', 'aterm', 'wbar'], min: 40 },
  { name: '14.x/x86_64 iproute2', dir: '14.x/x86_64/tcz', exts: ['iproute2'], min: 3 },
  { name: '14.x/x86_64 dialog', dir: '14.x/x86_64/tcz', exts: ['dialog'], min: 2 },
  { name: '14.x/x86_64 scsi-KERNEL', dir: '14.x/x86_64/tcz', exts: ['scsi-KERNEL.tcz', 'iproute2'], kv: '6.1.2-tinycore64', min: 4 },
];

describe('tce-load walk on real TC extensions, against the shell reference', () => {
  for (const c of cases) {
    test(c.name, async () => {
      const dir = path.join(M, c.dir);
      const ref = shellWalk(dir, c.exts, c.kv);
      expect(ref.missing).toEqual([]);
      const res = await resolveExtensions(c.exts, folderDeps(dir), c.kv ? { kernelVersion: c.kv } : {});
      const names = res.extensions.map((e) => e.name);
      expect(names).toEqual(ref.order);
      expect(names.length).toBeGreaterThanOrEqual(c.min);
      expect(new Set(names).size).toBe(names.length);
      // every dependency precedes its dependant
      const pos = new Map(names.map((n, i) => [n, i]));
      for (const e of res.extensions) for (const d of e.deps) expect(pos.get(d)!).toBeLessThan(pos.get(e.name)!);
    });
  }

  test('scsi-KERNEL.tcz becomes scsi-6.1.2-tinycore64.tcz', async () => {
    const res = await resolveExtensions(['scsi-KERNEL'], folderDeps(path.join(M, '14.x/x86_64/tcz')), { kernelVersion: '6.1.2-tinycore64' });
    expect(res.extensions.map((e) => e.name)).toEqual(['scsi-6.1.2-tinycore64.tcz']);
  });

  test('an unknown KERNEL is an error naming the extension', async () => {
    const err = await resolveExtensions(['scsi-KERNEL'], folderDeps(path.join(M, '14.x/x86_64/tcz'))).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResolveError);
    expect((err as Error).message).toContain('scsi-KERNEL.tcz');
    expect((err as Error).message).toMatch(/kernel version/);
  });
});

describe('holes in a real mirror give the chain', () => {
  const hole = async (dir: string, exts: string[]): Promise<string> => {
    const err = await resolveExtensions(exts, folderDeps(path.join(M, dir))).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResolveError);
    return (err as Error).message;
  };
  test('git and firefox-ESR (a .dep and .md5.txt but no .tcz)', async () => {
    expect(await hole('7.x/x86/tcz', ['git'])).toMatch(/git\.tcz is not on .*: git\.tcz <- recipe$/);
    expect(await hole('7.x/x86/tcz', ['curl', 'firefox-ESR'])).toMatch(/: firefox-ESR\.tcz <- recipe$/);
  });
  test('gcc via compiletc, and every other hole listed', async () => {
    const msg = await hole('3.x/x86/tcz', ['compiletc']);
    const ref = shellWalk(path.join(M, '3.x/x86/tcz'), ['compiletc']);
    expect(ref.missing).toEqual(['base-dev.tcz', 'gcc.tcz']);
    expect(msg).toContain('base-dev.tcz <- compiletc.tcz <- recipe');
    expect(msg).toContain('gcc.tcz <- compiletc.tcz <- recipe');
  });
  test('glibc_i18n_locale via getlocale in 14.x', async () => {
    const msg = await hole('14.x/x86_64/tcz', ['mylocale', 'getlocale']);
    expect(msg).toContain('glibc_i18n_locale.tcz <- getlocale.tcz <- recipe');
  });
});

describe('.dep quirks, cycles and order stability in a generated mirror', () => {
  const t = tempDir();
  afterAll(t.cleanup);
  const dir = path.join(t.dir, 'tcz');
  mkdirSync(dir);
  const ext = (name: string, dep?: string): void => {
    writeFileSync(path.join(dir, `${name}.tcz`), name);
    if (dep !== undefined) writeFileSync(path.join(dir, `${name}.tcz.dep`), dep);
  };
  ext('app', 'trail.tcz   \n\tlib-a.tcz\r\ncrlf.tcz\r\n  \n');
  ext('trail', 'nofinal.tcz');
  ext('lib-a', 'lib-b.tcz\n \n');
  ext('lib-b');
  ext('crlf', 'lib-b.tcz\r\n\r\n');
  ext('nofinal', 'lib-b');
  ext('cyc-a', 'cyc-b.tcz\n');
  ext('cyc-b', 'cyc-c.tcz\n');
  ext('cyc-c', 'cyc-a.tcz\nlib-b.tcz\n');

  test('parseDepText strips every blank and skips empty lines', () => {
    expect(parseDepText('a.tcz  \n\t b .tcz\r\n \n\r\nc.tcz')).toEqual(['a.tcz', 'b.tcz', 'c.tcz']);
  });

  test('quirky .dep files resolve as tce-load does', async () => {
    const res = await resolveExtensions(['app'], folderDeps(dir));
    const names = res.extensions.map((e) => e.name);
    expect(names).toEqual(shellWalk(dir, ['app']).order);
    expect(names).toEqual(['lib-b.tcz', 'nofinal.tcz', 'trail.tcz', 'lib-a.tcz', 'crlf.tcz', 'app.tcz']);
    expect(res.extensions.find((e) => e.name === 'nofinal.tcz')!.deps).toEqual(['lib-b.tcz']);
  });

  test('a cycle is cut with a warning naming it, same order every run', async () => {
    const runs = [];
    for (let i = 0; i < 5; i++) runs.push(await resolveExtensions(['cyc-a', 'app'], folderDeps(dir), { concurrency: 1 + i }));
    for (const r of runs) {
      expect(r.warnings).toEqual(['dependency cycle cut: cyc-a.tcz -> cyc-b.tcz -> cyc-c.tcz -> cyc-a.tcz']);
      expect(r.extensions.map((e) => e.name)).toEqual(runs[0]!.extensions.map((e) => e.name));
    }
    expect(runs[0]!.extensions.map((e) => e.name)).toEqual(shellWalk(dir, ['cyc-a', 'app']).order);
    expect(formatTree(runs[0]!)).toContain('cyc-a.tcz (cycle)');
  });

  test('tree shows dependants with ├─ and └─', async () => {
    const res = await resolveExtensions(['app'], folderDeps(dir));
    expect(formatTree(res)).toBe([
      'recipe',
      '└─ app.tcz',
      '   ├─ trail.tcz',
      '   │  └─ nofinal.tcz',
      '   │     └─ lib-b.tcz',
      '   ├─ lib-a.tcz',
      '   │  └─ lib-b.tcz',
      '   └─ crlf.tcz',
      '      └─ lib-b.tcz',
      '',
    ].join('\n'));
  });
});
