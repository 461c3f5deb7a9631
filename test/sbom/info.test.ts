import { cpSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Cache } from '../../src/cache/index.js';
import { checkMetaText } from '../../src/mirror/meta-check.js';
import { openMirror } from '../../src/mirror/index.js';
import { parseInfoText } from '../../src/resolve/info-file.js';
import { faultServer, type FaultServer } from '../helpers/fault-server.js';
import { sharedMirror, tempDir } from '../helpers/env.js';

const DIR = '17.x/x86/tcz';
const RETRY = { retries: 3, baseDelayMs: 5, maxDelayMs: 20, stallMs: 400 };

describe('.tcz.info: parsed as TC writes it', () => {
  const read = (name: string): string => readFileSync(path.join(sharedMirror(), DIR, `${name}.tcz.info`), 'utf8');

  it('the real 17.x files give Version, Copying-policy and Description', () => {
    expect(parseInfoText(read('curl'))).toEqual({ version: '8.4.0', copyingPolicy: 'Free', description: 'Client and library for transferring data' });
    expect(parseInfoText(read('openssl'))).toEqual({ version: '3.5.2', copyingPolicy: 'see list of sites below', description: 'cryptography library' });
  });

  it('CRLF, a tab after the colon, a continued value, a field with no value', () => {
    expect(parseInfoText('Title: x.tcz\r\nVersion:\t1.2 beta\r\nCopying-policy: GPLv2\r\n   and LGPL\r\nDescription:\r\n')).toEqual({
      version: '1.2 beta', copyingPolicy: 'GPLv2 and LGPL',
    });
  });

  it('every real .info passes the check; an HTML page, binary junk or prose does not', () => {
    for (const n of ['curl', 'openssl', 'ca-certificates', 'gcc_libs', 'libzstd']) {
      expect(() => checkMetaText(`http://m/${DIR}/${n}.tcz.info`, read(n))).not.toThrow();
    }
    const url = `http://m/${DIR}/curl.tcz.info`;
    expect(() => checkMetaText(url, '<!DOCTYPE html><html><body>502</body></html>')).toThrow(/curl\.tcz\.info: not a \.tcz\.info file/);
    expect(() => checkMetaText(url, 'Title: curl.tcz\n<html>busy</html>\n')).toThrow(/HTML markup/);
    expect(() => checkMetaText(url, 'Title: x\0\0')).toThrow(/NUL/);
    expect(() => checkMetaText(url, 'Service temporarily unavailable\n')).toThrow(/a line is/);
    expect(() => checkMetaText(url, '')).toThrow(/empty/);
  });
});

describe('.tcz.info through an http mirror and the metadata store', () => {
  const t = tempDir('dbco-info-');
  const root = path.join(t.dir, 'mirror');
  let server: FaultServer;
  let cacheDir: string;
  const open = (offline = false) => openMirror(server.url, { cache: new Cache(cacheDir), retry: RETRY, tty: false, offline });
  const truth = (rel: string) => readFileSync(path.join(root, rel), 'utf8');

  beforeAll(() => {
    cpSync(path.join(sharedMirror(), DIR), path.join(root, DIR), { recursive: true });
  });
  beforeEach(async () => {
    await server?.close();
    server = await faultServer(root);
    cacheDir = path.join(t.dir, `cache-${Math.random().toString(36).slice(2)}`);
  });
  afterAll(async () => { await server.close(); t.cleanup(); });

  it('an HTML page served with 200 as a .info is refused, asked again, and never stored', async () => {
    server.override(`/${DIR}/curl.tcz.info`, '<html><body>Service busy</body></html>');
    await expect(open().text(`${DIR}/curl.tcz.info`)).rejects.toThrow(/curl\.tcz\.info: not a \.tcz\.info file/);
    expect(server.requests.filter((r) => r.path === `/${DIR}/curl.tcz.info`).length).toBe(3);
    expect(await open(true).text(`${DIR}/curl.tcz.info`).catch((e: Error) => e.message)).toMatch(/not in the cache/);
  });

  it('a good .info is stored: an offline run answers it', async () => {
    expect(await open().text(`${DIR}/openssl.tcz.info`)).toBe(truth(`${DIR}/openssl.tcz.info`));
    expect(await open(true).text(`${DIR}/openssl.tcz.info`)).toBe(truth(`${DIR}/openssl.tcz.info`));
  });

  it('one transient 404 is asked again; a real absence (confirmed) is null, not an error', async () => {
    server.script(`/${DIR}/curl.tcz.info`, [{ kind: 'status', status: 404 }]);
    expect(await open().text(`${DIR}/curl.tcz.info`)).toBe(truth(`${DIR}/curl.tcz.info`));
    expect(await open().text(`${DIR}/nosuch.tcz.info`)).toBeNull();
    expect(server.requests.filter((r) => r.path === `/${DIR}/nosuch.tcz.info`).length).toBe(2);
  });
});
