import { readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { requireTool, sharedMirror, tempDir } from '../helpers/env.js';
import { dbcoTree, unsquashfsTree } from './squashfs-compare.js';

function findTczs(dir: string): string[] {
  const out: string[] = [];
  for (const d of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, d.name);
    if (d.isDirectory()) out.push(...findTczs(p));
    else if (d.isFile() && d.name.endsWith('.tcz')) out.push(p);
  }
  return out.sort();
}

const mirror = sharedMirror();
const tczs = findTczs(mirror);
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
