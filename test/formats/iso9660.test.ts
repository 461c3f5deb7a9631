import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FormatError } from '../../src/errors.js';
import type { Entry } from '../../src/formats/entry.js';
import { openIso9660 } from '../../src/formats/iso9660/index.js';
import { bufferSource } from '../../src/formats/source.js';
import { openFileSource, type FileSource } from '../../src/io/file-source.js';
import { requireTool, tempDir } from '../helpers/env.js';
import { genisoimageIso, tcStaging, xorrisoIso } from './iso9660-fixture.js';

interface Want {
  kind: 'file' | 'dir' | 'symlink';
  mode: number;
  sha256?: string;
  linkname?: string;
}

/** The staging tree as the reader should report it. */
function walk(root: string, rel = '', out = new Map<string, Want>()): Map<string, Want> {
  for (const name of readdirSync(path.join(root, rel)).sort()) {
    const r = rel ? `${rel}/${name}` : name;
    const p = path.join(root, r);
    const st = lstatSync(p);
    if (st.isSymbolicLink()) out.set(r, { kind: 'symlink', mode: st.mode & 0o7777, linkname: readlinkSync(p) });
    else if (st.isDirectory()) {
      out.set(r, { kind: 'dir', mode: st.mode & 0o7777 });
      walk(root, r, out);
    } else out.set(r, { kind: 'file', mode: st.mode & 0o7777, sha256: createHash('sha256').update(readFileSync(p)).digest('hex') });
  }
  return out;
}

async function sha256Of(e: Entry): Promise<string> {
  const h = createHash('sha256');
  for await (const c of e.open!()) h.update(c);
  return h.digest('hex');
}

async function collect(src: FileSource | ReturnType<typeof bufferSource>): Promise<Map<string, Entry>> {
  const iso = await openIso9660(src);
  const out = new Map<string, Entry>();
  for await (const e of iso.entries()) {
    expect(out.has(e.path), `duplicate ${e.path}`).toBe(false);
    out.set(e.path, e);
  }
  return out;
}

describe('ISO9660 reader on a TC-layout ISO from the shared 7.x files', () => {
  let tmp: ReturnType<typeof tempDir>;
  let stage: string;
  let want: Map<string, Want>;

  beforeAll(() => {
    tmp = tempDir('dbco-iso-');
    stage = tcStaging(tmp.dir, { extras: true });
    want = walk(stage);
  });
  afterAll(() => tmp.cleanup());

  it('xorriso -R -J: every path, kind, mode, symlink target and file sha256 equals the source', async () => {
    const iso = xorrisoIso(stage, path.join(tmp.dir, 'rr.iso'), ['-R', '-J']);
    const src = await openFileSource(iso);
    try {
      const reader = await openIso9660(src);
      expect(reader.rockRidge).toBe(true);
      expect(reader.joliet).toBe(true);
      expect(reader.volumeId).toBe('TC_TEST');
      const got = await collect(src);
      expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
      for (const [p, w] of want) {
        const e = got.get(p)!;
        expect(e.kind, p).toBe(w.kind);
        if (w.kind === 'symlink') expect(e.linkname, p).toBe(w.linkname);
        if (w.kind === 'file') {
          expect(e.mode, p).toBe(w.mode);
          expect(await sha256Of(e), p).toBe(w.sha256);
        }
      }
      expect(got.get('cde/optional/gtk2.tcz')!.size).toBe(lstatSync(path.join(stage, 'cde/optional/gtk2.tcz')).size);
      expect(got.get('extras/script.sh')!.mode).toBe(0o755);
      expect(got.get('extras/secret')!.mode).toBe(0o600);
    } finally {
      await src.close();
    }
  });

  it('agrees with xorriso -osirrox extraction of the same ISO', async () => {
    const iso = path.join(tmp.dir, 'rr.iso');
    const out = path.join(tmp.dir, 'extracted');
    execFileSync('xorriso', ['-osirrox', 'on', '-indev', iso, '-extract', '/', out], { stdio: 'pipe' });
    const extracted = walk(out);
    const src = await openFileSource(iso);
    try {
      const got = await collect(src);
      expect([...got.keys()].sort()).toEqual([...extracted.keys()].sort());
      for (const [p, w] of extracted) {
        if (w.kind === 'file') expect(await sha256Of(got.get(p)!), p).toBe(w.sha256);
        if (w.kind === 'symlink') expect(got.get(p)!.linkname, p).toBe(w.linkname);
      }
    } finally {
      await src.close();
    }
  });

  it('lookup and list find files lazily; isoinfo -R -x gives the same bytes', async () => {
    requireTool('isoinfo');
    const iso = path.join(tmp.dir, 'rr.iso');
    const src = await openFileSource(iso);
    try {
      const reader = await openIso9660(src);
      const e = await reader.lookup('/cde/optional/curl.tcz');
      expect(e?.path).toBe('cde/optional/curl.tcz');
      const viaIsoinfo = execFileSync('isoinfo', ['-R', '-i', iso, '-x', '/cde/optional/curl.tcz'], { maxBuffer: 64 << 20 });
      expect(await sha256Of(e!)).toBe(createHash('sha256').update(viaIsoinfo).digest('hex'));
      expect(await reader.lookup('cde/optional/nope.tcz')).toBeUndefined();
      expect(await reader.lookup('boot/vmlinuz/x')).toBeUndefined();
      const boot = (await reader.list('boot'))!.map((x) => x.path).sort();
      expect(boot).toEqual(['boot/core.gz', 'boot/vmlinuz']);
      expect(await reader.list('boot/vmlinuz')).toBeUndefined();
    } finally {
      await src.close();
    }
  });

  it('genisoimage -R relocates deep directories (CL/RE): the tree still reads as the source', async () => {
    const iso = genisoimageIso(stage, path.join(tmp.dir, 'geniso-rr.iso'), ['-R']);
    const bytes = readFileSync(iso);
    const got = await collect(bufferSource(bytes));
    // genisoimage moved the deepest directories away; the reader follows CL and hides RE.
    expect(got.get('rr_moved')?.kind).toBe('dir');
    expect(got.has('rr_moved/j')).toBe(false);
    const deep = got.get('extras/a/b/c/d/e/f/g/h/i/j/deep.txt');
    expect(deep?.kind).toBe('file');
    expect(await sha256Of(deep!)).toBe(want.get('extras/a/b/c/d/e/f/g/h/i/j/deep.txt')!.sha256);
    for (const [p, w] of want) {
      if (w.kind === 'file') expect(got.get(p)?.kind, p).toBe('file');
    }
  });

  it('Joliet names are used when the ISO has no Rock Ridge', async () => {
    const iso = genisoimageIso(stage, path.join(tmp.dir, 'joliet.iso'), ['-J', '-joliet-long']);
    const reader = await openIso9660(bufferSource(readFileSync(iso)));
    expect(reader.rockRidge).toBe(false);
    const e = await reader.lookup('cde/optional/gtk2.tcz');
    expect(e?.kind).toBe('file');
    expect(await sha256Of(e!)).toBe(want.get('cde/optional/gtk2.tcz')!.sha256);
    expect((await reader.lookup('extras/grüße ünïcødé.txt'))?.kind).toBe('file');
  });

  it('plain ISO names (version ";1" stripped) without Rock Ridge or Joliet', async () => {
    const iso = genisoimageIso(stage, path.join(tmp.dir, 'plain.iso'), []);
    const reader = await openIso9660(bufferSource(readFileSync(iso)));
    expect(reader.rockRidge).toBe(false);
    expect(reader.joliet).toBe(false);
    const e = await reader.lookup('BOOT/VMLINUZ');
    expect(e?.kind).toBe('file');
    expect(await sha256Of(e!)).toBe(want.get('boot/vmlinuz')!.sha256);
  });

  it('malformed images are FormatError(iso9660)', async () => {
    await expect(openIso9660(bufferSource(new Uint8Array(100)))).rejects.toBeInstanceOf(FormatError);
    await expect(openIso9660(bufferSource(new Uint8Array(64 * 1024)))).rejects.toThrow(/iso9660: no primary volume descriptor/);
    const whole = readFileSync(path.join(tmp.dir, 'rr.iso'));
    // Cut inside the file data: the volume opens, reading the entries notices.
    await expect(collect(bufferSource(whole.subarray(0, whole.length >> 1)))).rejects.toBeInstanceOf(FormatError);
  });
});
