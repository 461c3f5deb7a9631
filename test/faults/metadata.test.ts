import { createHash } from 'node:crypto';
import { cpSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Cache } from '../../src/cache/index.js';
import { openMirror } from '../../src/mirror/index.js';
import { metaFixture } from '../helpers/meta-fixture.js';

// Issue 12 item 2: one bad mirror answer must not be kept.
const DIR = '7.x/x86/tcz';

describe('no bad mirror answer is kept in the metadata store', () => {
  const fx = metaFixture(DIR, 'dbco-meta-');

  it('a transient 404 on curl.tcz.dep is asked again before it counts: the dependencies are found', async () => {
    fx.server.script(`/${DIR}/curl.tcz.dep`, [{ kind: 'status', status: 404 }]);
    expect(await fx.open().text(`${DIR}/curl.tcz.dep`)).toBe(fx.truth(`${DIR}/curl.tcz.dep`));
    // and what was stored is the truth: an offline run answers the same
    expect(await fx.open(true).text(`${DIR}/curl.tcz.dep`)).toBe(fx.truth(`${DIR}/curl.tcz.dep`));
  });

  it('a .dep the mirror really lacks is absent after the confirmation', async () => {
    expect(await fx.open().text(`${DIR}/Xlibs.tcz.dep`)).toBeNull();
    fx.server.script(`/${DIR}/curl.tcz.md5.txt`, [{ kind: 'status', status: 404 }]);
    expect(await fx.open().text(`${DIR}/curl.tcz.md5.txt`)).toBe(fx.truth(`${DIR}/curl.tcz.md5.txt`));
    expect(fx.server.requests.filter((r) => r.path === `/${DIR}/Xlibs.tcz.dep`).length).toBe(2);
  });

  it('an HTML page served with 200 as a .dep is refused and asked again; never stored', async () => {
    fx.server.override(`/${DIR}/curl.tcz.dep`, '<html><body>Service busy</body></html>');
    await expect(fx.open().text(`${DIR}/curl.tcz.dep`)).rejects.toThrow(/curl\.tcz\.dep: not a \.dep file/);
    expect(await fx.open(true).text(`${DIR}/curl.tcz.dep`).catch((e: Error) => e.message)).toMatch(/not in the cache/);
  });

  it('a cut-short .dep (last name cut) is refused and asked again', async () => {
    const full = fx.truth(`${DIR}/curl.tcz.dep`);
    fx.server.override(`/${DIR}/curl.tcz.dep`, full.slice(0, full.indexOf('.tcz') + 2));
    await expect(fx.open().text(`${DIR}/curl.tcz.dep`)).rejects.toThrow(/not a \.dep file/);
    await fx.restart();
    expect(await fx.open().text(`${DIR}/curl.tcz.dep`)).toBe(full);
  });

  it('a garbled .md5.txt is refused and never stored', async () => {
    fx.server.override(`/${DIR}/curl.tcz.md5.txt`, '<!doctype html>');
    await expect(fx.open().text(`${DIR}/curl.tcz.md5.txt`)).rejects.toThrow(/not an \.md5\.txt/);
    expect(await fx.open(true).text(`${DIR}/curl.tcz.md5.txt`).catch((e: Error) => e.message)).toMatch(/not in the cache/);
  });

  it('a payload fetched while its .md5.txt was missing is verified once the md5 appears (TTL 0), and fetched again when wrong', async () => {
    const rel = `${DIR}/curl.tcz`;
    const good = readFileSync(path.join(fx.root, rel));
    const bad = Buffer.from(good);
    bad[1000] ^= 0xff;
    // The mirror is mid-sync: a corrupt payload and no .md5.txt yet.
    fx.server.override(`/${rel}`, bad);
    fx.server.script(`/${rel}.md5.txt`, [{ kind: 'status', status: 404 }, { kind: 'status', status: 404 }]);
    const first = await fx.open().fetch(rel);
    expect(first!.sha256).toBe(createHash('sha256').update(bad).digest('hex'));
    // Synced: the md5 is there, the payload is good. With DBCO_METADATA_TTL=0 the md5 is asked again.
    fx.server.override(`/${rel}`, good);
    fx.server.requests.length = 0;
    process.env.DBCO_METADATA_TTL = '0';
    try {
      const again = await fx.open().fetch(rel);
      expect(again!.sha256).toBe(createHash('sha256').update(good).digest('hex'));
      expect(fx.server.requests.some((r) => r.path === `/${rel}`)).toBe(true);
    } finally {
      delete process.env.DBCO_METADATA_TTL;
    }
  });

  it('the cached payload that matches the md5 once it appears is kept without a download', async () => {
    const rel = `${DIR}/libidn.tcz`;
    fx.server.script(`/${rel}.md5.txt`, [{ kind: 'status', status: 404 }, { kind: 'status', status: 404 }]);
    await fx.open().fetch(rel);
    fx.server.requests.length = 0;
    process.env.DBCO_METADATA_TTL = '0';
    try {
      await fx.open().fetch(rel);
      expect(fx.server.requests.map((r) => r.path)).toEqual([`/${rel}.md5.txt`]);
    } finally {
      delete process.env.DBCO_METADATA_TTL;
    }
  });

  it('folder mirror: a payload copied while its .md5.txt was missing is checked once it appears', async () => {
    const folder = path.join(fx.dir, 'folder');
    cpSync(path.join(fx.root, DIR, 'libidn.tcz'), path.join(folder, DIR, 'libidn.tcz'));
    const m = () => openMirror(folder, { cache: new Cache(fx.cacheDir) });
    await m().fetch(`${DIR}/libidn.tcz`);
    cpSync(path.join(fx.root, DIR, 'libidn.tcz.md5.txt'), path.join(folder, DIR, 'libidn.tcz.md5.txt'));
    await expect(m().fetch(`${DIR}/libidn.tcz`)).resolves.toBeTruthy();
    rmSync(path.join(folder, DIR, 'libidn.tcz.md5.txt'));
    cpSync(path.join(fx.root, DIR, 'curl.tcz.md5.txt'), path.join(folder, DIR, 'libidn.tcz.md5.txt'));
    await expect(m().fetch(`${DIR}/libidn.tcz`)).rejects.toThrow(/libidn\.tcz: md5 mismatch/);
  });
});
