import { execFileSync, execSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { indexCpio } from '../../src/formats/cpio/index.js';
import { bufferSource } from '../../src/formats/source.js';
import { writeTar } from '../../src/formats/tar/index.js';
import { requireTool, runDbco, sharedMirror, tempDir } from '../helpers/env.js';
import { buildTree } from './archive-build-tree.js';
import { collect } from './chunks.js';

/** Fields every listing shares: mode string, uid/gid, size or "major,minor", path with its suffix. */
type Row = { mode: string; owner: string; size: string; name: string };

function dbcoRows(stdout: string): Map<string, Row> {
  const rows = new Map<string, Row>();
  for (const line of stdout.trimEnd().split('\n')) {
    const m = /^(\S{10}) (\d+\/\d+) +(\d+|\d+,\d+) \d{4}-\d\d-\d\d \d\d:\d\d (.*)$/.exec(line);
    if (!m) throw new Error(`unexpected dbco ls line: ${line}`);
    rows.set(m[4]!.replace(/ (->|link to) .*$/, ''), { mode: m[1]!, owner: m[2]!, size: m[3]!, name: m[4]! });
  }
  return rows;
}

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const ls = async (args: string[]) => {
  const r = await runDbco(['ls', ...args], { env: { TZ: 'UTC' } });
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return r.stdout;
};
const jsonRows = (out: string) => out.trimEnd().split('\n').map((l) => JSON.parse(l) as { path: string; kind: string; sha256?: string; size: number });

describe('dbco ls', () => {
  requireTool('cpio');
  requireTool('tar');
  requireTool('unsquashfs');
  const tmp = tempDir('dbco-ls-');
  afterAll(() => tmp.cleanup());
  // runDbco runs the built CLI (dist/): npm test builds first; alone, run `npm run build` before.

  it('rootfs64.gz: fields match cpio -tv; --json sha256 match the extracted files', async () => {
    const gz = path.join(sharedMirror(), '6.x/x86_64/release/distribution_files/rootfs64.gz');
    const raw = gunzipSync(readFileSync(gz));
    const cpioRows = new Map<string, Row>();
    for (const line of execFileSync('cpio', ['-tv', '--numeric-uid-gid', '--quiet'], { input: raw, env: { TZ: 'UTC' } }).toString().trimEnd().split('\n')) {
      const m = /^(\S{10})\s+\d+\s+(\d+)\s+(\d+)\s+(\d+,\s*\d+|\d+)\s+\w{3}\s+\d+\s+\S+\s+(.*)$/.exec(line);
      if (!m) throw new Error(`unexpected cpio -tv line: ${line}`);
      if (m[5] === '.') continue;
      cpioRows.set(m[5]!.replace(/ -> .*$/, ''), { mode: m[1]!, owner: `${m[2]}/${m[3]}`, size: m[4]!.replace(/\s+/g, ''), name: m[5]! });
    }
    const ours = dbcoRows(await ls([gz]));
    expect(ours.size).toBeGreaterThan(600);
    expect(ours).toEqual(cpioRows);

    const x = path.join(tmp.dir, 'rootfs');
    mkdirSync(x);
    execFileSync('cpio', ['-idm', '--no-absolute-filenames', '--quiet'], { cwd: x, input: raw });
    const files = jsonRows(await ls(['--json', gz])).filter((r) => r.kind === 'file');
    expect(files.length).toBeGreaterThan(100);
    for (const f of files) expect(f.sha256, f.path).toBe(sha256(path.join(x, f.path)));
  });

  it('a tar dbco wrote: fields match tar -tv --numeric-owner', async () => {
    const src = path.join(tmp.dir, 'src');
    mkdirSync(src);
    buildTree(src);
    const list = execSync('find . -mindepth 1 | sort', { cwd: src });
    const entries = await indexCpio(bufferSource(execFileSync('cpio', ['-o', '-H', 'newc', '--quiet'], { cwd: src, input: list, maxBuffer: 64 << 20 })));
    const tarFile = path.join(tmp.dir, 'layer.tar');
    writeFileSync(tarFile, await collect(writeTar(entries)));
    const tarRows = new Map<string, Row>();
    for (const line of execFileSync('tar', ['-tvf', tarFile, '--numeric-owner'], { env: { TZ: 'UTC' } }).toString().trimEnd().split('\n')) {
      const m = /^(\S{10}) (\d+\/\d+) +(\d+|\d+,\d+) \d{4}-\d\d-\d\d \d\d:\d\d (.*)$/.exec(line)!;
      const name = m[4]!.replace(/^([^ ]*?)\/( |$)/, '$1$2');
      // tar lists symlinks with size 0; dbco, like cpio -tv and unsquashfs, shows the target's length
      const size = m[1]!.startsWith('l') ? String(Buffer.byteLength(name.replace(/^.*? -> /, ''))) : m[3]!;
      tarRows.set(name.replace(/ (->|link to) .*$/, ''), { mode: m[1]!.replace(/^h/, '-'), owner: m[2]!, size, name });
    }
    expect(dbcoRows(await ls([tarFile]))).toEqual(tarRows);
    const json = jsonRows(await ls(['--json', tarFile]));
    expect(json.find((r) => r.path === 'hl-a')).toMatchObject({ kind: 'hardlink', sha256: sha256(path.join(src, 'hl-a')) });
    expect(json.find((r) => r.path === 'big.bin')!.sha256).toBe(sha256(path.join(src, 'big.bin')));
  });

  it('a real tcz (squashfs): fields match unsquashfs -lln; --json sha256 match unsquashfs -d', async () => {
    const tcz = path.join(sharedMirror(), '14.x/x86_64/tcz/ncursesw.tcz');
    const unsq = new Map<string, Row>();
    for (const line of execFileSync('unsquashfs', ['-lln', tcz], { env: { TZ: 'UTC' } }).toString().trimEnd().split('\n')) {
      const m = /^(\S{10}) (\d+\/\d+) +(\d+|\d+,\s*\d+) \d{4}-\d\d-\d\d \d\d:\d\d squashfs-root\/(.*)$/.exec(line);
      if (!m) continue; // the root and any banner
      const dir = m[1]!.startsWith('d');
      unsq.set(m[4]!.replace(/ -> .*$/, ''), { mode: m[1]!, owner: m[2]!, size: dir ? '0' : m[3]!.replace(/\s+/g, ''), name: m[4]! });
    }
    const ours = dbcoRows(await ls([tcz]));
    expect(ours.size).toBeGreaterThan(30);
    expect(ours).toEqual(unsq);
    const x = path.join(tmp.dir, 'tcz');
    execFileSync('unsquashfs', ['-q', '-n', '-d', x, tcz]);
    const files = jsonRows(await ls(['--json', tcz])).filter((r) => r.kind === 'file');
    expect(files.length).toBeGreaterThan(10);
    for (const f of files) expect(f.sha256, f.path).toBe(sha256(path.join(x, f.path)));
  });

  it('refuses what is not an archive, and a missing file, with one clear line', async () => {
    const junk = path.join(tmp.dir, 'junk.bin');
    writeFileSync(junk, 'just text, not an archive\n'.repeat(40));
    const r = await runDbco(['ls', junk]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^dbco: .*junk\.bin: not a squashfs, cpio, tar/);
    const m = await runDbco(['ls', path.join(tmp.dir, 'nope.tcz')]);
    expect(m.code).toBe(1);
    expect(m.stderr).toMatch(/nope\.tcz: no such file/);
  });
});
