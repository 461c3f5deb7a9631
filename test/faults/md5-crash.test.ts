import { cpSync, existsSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { faultServer, type FaultServer } from '../helpers/fault-server.js';
import { runDbco, sharedMirror, tempDir } from '../helpers/env.js';

// Issue 12 item 1: a payload failing its md5 while other .dep reads were still running crashed dbco
// with an unhandled rejection and a stack trace (3 of 3 over HTTP), leaving temp files behind.
describe('a wrong .md5.txt over HTTP while the walk is still reading .dep files', () => {
  const t = tempDir('dbco-md5crash-');
  const root = path.join(t.dir, 'mirror');
  const recipe = path.join(t.dir, 'r.yaml');
  let server: FaultServer;

  beforeAll(async () => {
    cpSync(path.join(sharedMirror(), '7.x/x86/tcz'), path.join(root, '7.x/x86/tcz'), { recursive: true });
    writeFileSync(path.join(t.dir, 'core.gz'), gzipSync(Buffer.alloc(0)));
    writeFileSync(recipe, 'name: md5\nrelease: "7.2"\narch: x86\nbase: {file: core.gz}\nextensions: [curl]\n');
    server = await faultServer(root);
    server.override('/7.x/x86/tcz/curl.tcz.md5.txt', `${'0'.repeat(32)}  curl.tcz\n`);
    // The .dep reads of curl's dependencies are slower than curl's own download and md5 check.
    server.setLatency(0);
  });
  afterAll(async () => { await server.close(); t.cleanup(); });

  for (let i = 1; i <= 3; i++) {
    it(`run ${i}: exit 1, one line naming curl.tcz and the md5, no stack trace, no temp file`, async () => {
      const cache = path.join(t.dir, `cache-${i}`);
      const r = await runDbco(['fetch', recipe, '--mirror', server.url, '--cache', cache]);
      const lines = r.stderr.split('\n').filter((l) => l.startsWith('dbco:') || /^\s+at /.test(l) || /Error/.test(l));
      expect(lines, r.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(/^dbco: .*curl\.tcz: md5 mismatch/);
      expect(r.code).toBe(1);
      const tmp = path.join(cache, 'tmp');
      expect(existsSync(tmp) ? readdirSync(tmp) : []).toEqual([]);
    });
  }
});
