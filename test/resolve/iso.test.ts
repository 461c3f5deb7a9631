import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { requireTool, sharedMirror, tempDir } from '../helpers/env.js';
import { serveFolder } from '../helpers/static-server.js';
import { prepare } from '../../src/pipeline/prepare.js';
import { shellWalk } from './walk-helpers.js';

const M = sharedMirror();
const T7 = path.join(M, '7.x/x86/tcz');
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('a TC ISO as the base: ISO first, then the mirror for what it lacks', () => {
  const t = tempDir();
  const iso = path.join(t.dir, 'tc.iso');
  const core = path.join(M, '6.x/x86_64/release/distribution_files/rootfs64.gz');
  const onIso = shellWalk(T7, ['gtk2']).order;
  let server: Awaited<ReturnType<typeof serveFolder>>;

  beforeAll(async () => {
    requireTool('xorriso');
    const root = path.join(t.dir, 'root');
    mkdirSync(path.join(root, 'boot'), { recursive: true });
    mkdirSync(path.join(root, 'cde/optional'), { recursive: true });
    copyFileSync(path.join(M, '7.x/x86/release/distribution_files/vmlinuz'), path.join(root, 'boot/vmlinuz'));
    copyFileSync(core, path.join(root, 'boot/core.gz'));
    for (const name of onIso) {
      for (const suffix of ['', '.dep', '.md5.txt']) {
        const src = path.join(T7, name + suffix);
        if (existsSync(src)) copyFileSync(src, path.join(root, 'cde/optional', name + suffix));
      }
    }
    writeFileSync(path.join(root, 'cde/onboot.lst'), 'gtk2.tcz\n');
    execFileSync('xorriso', ['-as', 'mkisofs', '-R', '-J', '-V', 'TC7', '-o', iso, root], { stdio: 'ignore' });
    server = await serveFolder(M);
  });
  afterAll(async () => { await server?.close(); t.cleanup(); });

  test('resolves and fetches the same files as the mirror alone', async () => {
    const isoSha = sha(readFileSync(iso));
    const viaIso = path.join(t.dir, 'iso.yaml');
    writeFileSync(viaIso, `name: iso7\nrelease: "7.2"\narch: x86\nbase:\n  iso: tc.iso\n  sha256: ${isoSha}\nextensions: [gtk2, curl]\n`);
    const viaMirror = path.join(t.dir, 'mirror.yaml');
    writeFileSync(viaMirror, `name: mirror7\nrelease: "7.2"\narch: x86\nbase: {file: ${JSON.stringify(core)}}\nkernel: vmlinuz\nextensions: [gtk2, curl]\n`);
    const cache = path.join(t.dir, 'cache');
    const a = await prepare(viaIso, { mirror: server.url, cache });
    const b = await prepare(viaMirror, { mirror: server.url, cache });
    expect(a.extensions.map((e) => [e.name, e.file.sha256, e.deps])).toEqual(b.extensions.map((e) => [e.name, e.file.sha256, e.deps]));
    expect(a.extensions.map((e) => e.name)).toEqual(shellWalk(T7, ['gtk2', 'curl']).order);
    // gtk2's closure came out of the ISO, curl's from the mirror
    for (const e of a.extensions) {
      if (onIso.includes(e.name)) expect(e.file.origin).toMatch(/^iso:.*tc\.iso!\/cde\/optional\//);
      else expect(e.file.origin).toBe(`${server.url}/7.x/x86/tcz/${e.name}`);
    }
    expect(a.extensions.some((e) => !onIso.includes(e.name))).toBe(true);
    expect(a.base.sha256).toBe(b.base.sha256);
    expect(a.kernel!.sha256).toBe(b.kernel!.sha256);
    expect(a.kernelVersion).toBe('4.2.9-tinycore');
  });
});
