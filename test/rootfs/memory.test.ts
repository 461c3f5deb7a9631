import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { materializeLayer } from '../../src/rootfs/layer-tar.js';
import { extensionLayer } from '../../src/rootfs/tcz-layer.js';
import { tempDir } from '../helpers/env.js';
import { extension, mksquashfs } from './helpers.js';

const tmp = tempDir('dbco-rootfs-mem-');
afterAll(() => tmp.cleanup());

const MB = 1024 * 1024;

describe('memory', () => {
  it('materializing a layer with a 256 MiB file streams it (RSS grows far less than the file)', async () => {
    const stage = path.join(tmp.dir, 'stage/usr/local/share/big');
    mkdirSync(stage, { recursive: true });
    // Blocks differ (a counter in each), so squashfs cannot dedupe them and every block is inflated on read.
    const fd = openSync(path.join(stage, 'blob.bin'), 'w');
    const block = Buffer.alloc(MB, 'dbco memory test ');
    for (let i = 0; i < 256; i++) {
      block.writeUInt32LE(i, 0);
      writeSync(fd, block);
    }
    closeSync(fd);
    const tcz = mksquashfs(path.join(tmp.dir, 'stage'), path.join(tmp.dir, 'big.tcz'), ['-b', '131072']);
    const cache = { root: path.join(tmp.dir, 'cache') };
    const layer = await extensionLayer(extension(tcz), { cacheRoot: cache.root, epoch: 0 });

    global.gc?.();
    const before = process.memoryUsage().rss;
    let peak = before;
    const timer = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 5);
    const blob = await materializeLayer(layer, { cache, epoch: 0 });
    clearInterval(timer);
    peak = Math.max(peak, process.memoryUsage().rss);
    expect(blob.size).toBeGreaterThan(256 * MB);
    expect((peak - before) / MB).toBeLessThan(96);
  });
});
