/**
 * Child process of bench/squashfs.ts: reads every file of the given images with dbco's squashfs
 * reader, as a build does (block runs read and inflated by the worker pool of src/io/block-pool.ts,
 * the next small files read ahead by src/formats/read-ahead.ts), and prints {files, bytes, readMs}
 * as JSON. Run under /usr/bin/time -v so its peak RSS is measured apart from the bench driver.
 * Usage: node squashfs-read.js drain|sha256 IMAGE...   DBCO_INFLATE=inline: everything on the main thread.
 */
import { createHash } from 'node:crypto';
import { readAhead } from '../src/formats/read-ahead.js';
import { openSquashfs } from '../src/formats/squashfs/index.js';
import { createBlockPool } from '../src/io/block-pool.js';
import { openFileSource } from '../src/io/file-source.js';

const [mode, ...images] = process.argv.slice(2);
let files = 0;
let bytes = 0;
// From before the pool starts: its workers' start-up counts as reading time.
const started = performance.now();
const pool = process.env.DBCO_INFLATE === 'inline' ? undefined : createBlockPool();
try {
  for (const image of images) {
    const src = await openFileSource(image);
    try {
      const fs = await openSquashfs(src, { readBlockRun: pool?.forFile(image) });
      for await (const { entry, body } of readAhead(fs.entries())) {
        if (!entry.open) continue;
        files++;
        const h = mode === 'sha256' ? createHash('sha256') : undefined;
        for await (const chunk of body) {
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
process.stdout.write(`${JSON.stringify({ files, bytes, readMs: Math.round(performance.now() - started) })}\n`);
