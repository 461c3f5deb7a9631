import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Entry } from '../../src/formats/entry.js';
import { assembleRootfs, flattenLayers, SETUP_WRAPPER_PATH, writeInitramfs } from '../../src/rootfs/index.js';
import { requireTool, tempDir } from '../helpers/env.js';
import { buildFixtureTczs } from './fixtures.js';
import { treeOfDir, treeOfEntries } from '../helpers/tree.js';
import { extension, gunzipCpioInto, inputs, ROOTFS_TREE } from './helpers.js';

const tmp = tempDir('dbco-initramfs-');
let flat: Entry[];
let configEntries: Entry[];

async function writeTo(file: string, chunks: AsyncIterable<Uint8Array>): Promise<string> {
  await pipeline(Readable.from(chunks), createWriteStream(file));
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

beforeAll(async () => {
  const tczs = buildFixtureTczs(tmp.dir);
  const inp = inputs({
    extensions: [extension(tczs.plain), extension(tczs.setup), extension(tczs.kept)],
    recipe: { bootlocal: ['echo booted'], files: [{ dest: '/etc/dbco/hello.txt', content: 'hi\n', mode: '0640', owner: '1001:50' }] },
  });
  const rootfs = await assembleRootfs(inp, { cache: { root: path.join(tmp.dir, 'cache') }, epoch: 0, setup: 'boot' });
  flat = flattenLayers(rootfs.layers);
  configEntries = rootfs.layers.at(-1)!.entries;
});
afterAll(() => tmp.cleanup());

describe('writeInitramfs', () => {
  it('is a deterministic gzip (header mtime 0) of a cpio that GNU cpio extracts to exactly the flattened tree', async () => {
    const a = path.join(tmp.dir, 'a.gz');
    const shaA = await writeTo(a, writeInitramfs(flat));
    const shaB = await writeTo(path.join(tmp.dir, 'b.gz'), writeInitramfs(flat));
    expect(shaB).toBe(shaA);
    const header = readFileSync(a).subarray(0, 10);
    expect([header[0], header[1], header.readUInt32LE(4)]).toEqual([0x1f, 0x8b, 0]);

    const dir = path.join(tmp.dir, 'x');
    mkdirSync(dir);
    gunzipCpioInto(a, dir);
    expect(treeOfDir(dir, ROOTFS_TREE)).toEqual(await treeOfEntries(flat, ROOTFS_TREE));
  });

  it('adds missing parents (root 0755) so any entry list extracts', async () => {
    const data = Buffer.from('x');
    const entries: Entry[] = [{ path: 'a/b/c.txt', kind: 'file', mode: 0o600, uid: 0, gid: 0, mtime: 0, size: 1, open: async function* () { yield data; } }];
    const file = path.join(tmp.dir, 'parents.gz');
    await writeTo(file, writeInitramfs(entries));
    requireTool('cpio');
    const listing = execFileSync('sh', ['-c', 'gzip -dc "$1" | cpio -tv --quiet', 'sh', file]).toString();
    expect(listing.split('\n').filter(Boolean).map((l) => `${l.split(/\s+/)[0]} ${l.split(/\s+/).at(-1)}`)).toEqual([
      'drwxr-xr-x a', 'drwxr-xr-x a/b', '-rw------- a/b/c.txt',
    ]);
  });

  it('the config layer alone (a frugal disk\'s second initramfs) carries its parents as the base has them', async () => {
    const file = path.join(tmp.dir, 'config.gz');
    await writeTo(file, writeInitramfs(configEntries));
    requireTool('cpio');
    const listing = execFileSync('sh', ['-c', 'gzip -dc "$1" | cpio -tv --quiet --numeric-uid-gid', 'sh', file]).toString();
    expect(listing).toMatch(/^drwxrwsr-x\s+\d+\s+0\s+50\s.* opt$/m);
    expect(listing).toMatch(/^-rwxrwxr-x\s+\d+\s+0\s+50\s.* opt\/bootlocal\.sh$/m);
    expect(listing).toMatch(/^-rw-r-----\s+\d+\s+1001\s+50\s.* etc\/dbco\/hello\.txt$/m);
  });

  it('the setup wrapper runs the setup script once, then execs the command (chroot into the extracted tree)', async () => {
    requireTool('chroot');
    const dir = path.join(tmp.dir, 'x');
    const run = (): string => execFileSync('chroot', [dir, SETUP_WRAPPER_PATH, '/bin/sh', '-c', 'cat /tmp/setupext.ran 2>/dev/null; echo "args ok"'], { env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' } }).toString();
    expect(existsSync(path.join(dir, 'tmp/setup.lst'))).toBe(true);
    expect(run()).toBe('setup ran\nargs ok\n');
    expect(existsSync(path.join(dir, 'tmp/.dbco-setup.done'))).toBe(true);
    expect(existsSync(path.join(dir, 'tmp/setup.lst'))).toBe(false);
    rmSync(path.join(dir, 'tmp/setupext.ran'));
    expect(run()).toBe('args ok\n');
  });
});
