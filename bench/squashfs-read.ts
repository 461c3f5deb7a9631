/**
 * Child process of bench/squashfs.ts: reads every file of the given images with dbco's squashfs
 * reader and prints {files, bytes} as JSON. Run under /usr/bin/time -v so its peak RSS is measured
 * apart from the bench driver. Usage: node squashfs-read.js drain|sha256 IMAGE...
 * Data blocks are inflated by a worker pool (src/io/inflate-pool.ts); DBCO_INFLATE=inline keeps
 * them on the main thread.
 */
import { createHash } from 'node:crypto';
import { openSquashfs, type SquashfsOptions } from '../src/formats/squashfs/index.js';
import { openFileSource } from '../src/io/file-source.js';
import { createInflatePool } from '../src/io/inflate-pool.js';

const [mode, ...images] = process.argv.slice(2);
let files = 0;
let bytes = 0;
const pool = process.env.DBCO_INFLATE === 'inline' ? undefined : createInflatePool();
const options: SquashfsOptions = pool ? { batchInflate: pool.batchInflate } : {};
try {
  for (const image of images) {
    const src = await openFileSource(image);
    try {
      const fs = await openSquashfs(src, options);
      for await (const e of fs.entries()) {
        if (!e.open) continue;
        files++;
        const h = mode === 'sha256' ? createHash('sha256') : undefined;
        for await (const chunk of e.open()) {
          bytes += chunk.length;
          h?.update(chunk);
        }
        h?.digest();
      }
    } finally {
      await src.close();
    }
  }
} finally {
  await pool?.close();
}
process.stdout.write(JSON.stringify({ files, bytes }) + '\n');
