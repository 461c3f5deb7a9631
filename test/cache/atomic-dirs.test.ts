import { readFileSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeFileAtomic, writeRecordAtomic } from '../../src/cache/atomic.js';
import { tempDir } from '../helpers/env.js';

const tmp = tempDir('dbco-atomic-dirs-');
afterAll(() => tmp.cleanup());

describe('atomic writes into folders this process made before', () => {
  it('a folder removed since (temp folder or destination) is made again: the write lands, no temp file is left', async () => {
    const t = path.join(tmp.dir, 'tmp');
    const dest = path.join(tmp.dir, 'meta', 'a.json');
    await writeRecordAtomic(t, dest, '{"n":1}');
    rmSync(path.join(tmp.dir, 'meta'), { recursive: true });
    await writeRecordAtomic(t, dest, '{"n":2}');
    expect(JSON.parse(readFileSync(dest, 'utf8'))).toEqual({ n: 2 });
    rmSync(t, { recursive: true });
    await writeFileAtomic(t, dest, '{"n":3}');
    expect(JSON.parse(readFileSync(dest, 'utf8'))).toEqual({ n: 3 });
    rmSync(tmp.dir + '/meta', { recursive: true });
    rmSync(t, { recursive: true });
    await writeRecordAtomic(t, dest, '{"n":4}');
    expect(JSON.parse(readFileSync(dest, 'utf8'))).toEqual({ n: 4 });
    expect(readdirSync(t)).toEqual([]);
  });
});
