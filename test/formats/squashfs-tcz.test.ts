import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { requireTool, sharedMirror, sharedTczs, tempDir } from '../helpers/env.js';
import { dbcoTree, unsquashfsTree } from './squashfs-compare.js';


const mirror = sharedMirror();
const tczs = sharedTczs();
const tmp = tempDir('dbco-sqfs-tcz-');
afterAll(() => tmp.cleanup());

describe('squashfs reader on every real tcz of the shared mirror', () => {
  test('the mirror holds the expected ~100 tczs', () => {
    requireTool('unsquashfs');
    expect(tczs.length).toBeGreaterThanOrEqual(100);
  });

  test.each(tczs.map((t) => [path.relative(mirror, t), t]))('%s matches unsquashfs', async (_name, tcz) => {
    const want = unsquashfsTree(tcz, path.join(tmp.dir, 'x'));
    const got = await dbcoTree(tcz);
    expect(got.nodes).toEqual(want.nodes);
    expect(got.links).toEqual(want.links);
  });
});
