import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkMetaText } from '../../src/mirror/meta-check.js';
import { parseInfoText } from '../../src/resolve/info-file.js';
import { metaFixture } from '../helpers/meta-fixture.js';
import { sharedMirror } from '../helpers/env.js';

const DIR = '17.x/x86/tcz';

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
  const fx = metaFixture(DIR, 'dbco-info-');

  it('an HTML page served with 200 as a .info is refused, asked again, and never stored', async () => {
    fx.server.override(`/${DIR}/curl.tcz.info`, '<html><body>Service busy</body></html>');
    await expect(fx.open().text(`${DIR}/curl.tcz.info`)).rejects.toThrow(/curl\.tcz\.info: not a \.tcz\.info file/);
    expect(fx.server.requests.filter((r) => r.path === `/${DIR}/curl.tcz.info`).length).toBe(3);
    expect(await fx.open(true).text(`${DIR}/curl.tcz.info`).catch((e: Error) => e.message)).toMatch(/not in the cache/);
  });

  it('a good .info is stored: an offline run answers it', async () => {
    expect(await fx.open().text(`${DIR}/openssl.tcz.info`)).toBe(fx.truth(`${DIR}/openssl.tcz.info`));
    expect(await fx.open(true).text(`${DIR}/openssl.tcz.info`)).toBe(fx.truth(`${DIR}/openssl.tcz.info`));
  });

  it('one transient 404 is asked again; a real absence (confirmed) is null, not an error', async () => {
    fx.server.script(`/${DIR}/curl.tcz.info`, [{ kind: 'status', status: 404 }]);
    expect(await fx.open().text(`${DIR}/curl.tcz.info`)).toBe(fx.truth(`${DIR}/curl.tcz.info`));
    expect(await fx.open().text(`${DIR}/nosuch.tcz.info`)).toBeNull();
    expect(fx.server.requests.filter((r) => r.path === `/${DIR}/nosuch.tcz.info`).length).toBe(2);
  });
});
