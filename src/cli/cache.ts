import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { defaultCacheDir } from '../cache/index.js';
import { gcCache, listCache, parseSize, summarize, verifyCache } from '../cache/maintenance.js';
import { DbcoError } from '../errors.js';

function human(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

/** `dbco cache ls|verify|gc`: what the cache holds, whether it is sound, and pruning it. */
export function registerCache(program: Command): void {
  const cache = program.command('cache').description('inspect, verify or prune the cache');
  const root = (o: { cache?: string }): string => o.cache ?? defaultCacheDir();

  cache.command('ls')
    .description('what the cache holds: blobs, metadata, derived layers, setup layers, temp files, with sizes')
    .option('--cache <dir>', 'cache folder (default: $DBCO_CACHE or ./cache)')
    .action(async (o: { cache?: string }) => {
      const rows = summarize(await listCache(root(o)));
      for (const r of rows) process.stdout.write(`${r.kind.padEnd(16)} ${String(r.count).padStart(7)}  ${human(r.bytes)}\n`);
      const total = rows.reduce((n, r) => n + r.bytes, 0);
      process.stdout.write(`${'total'.padEnd(16)} ${String(rows.reduce((n, r) => n + r.count, 0)).padStart(7)}  ${human(total)}\n`);
    });

  cache.command('verify')
    .description('re-hash every blob and derived layer against its digest; exit 1 naming any that differ')
    .option('--cache <dir>', 'cache folder (default: $DBCO_CACHE or ./cache)')
    .action(async (o: { cache?: string }) => {
      const { checked, bad } = await verifyCache(root(o));
      for (const b of bad) process.stderr.write(`dbco: corrupt: ${b}\n`);
      process.stdout.write(`${checked} checked, ${bad.length} corrupt\n`);
      if (bad.length > 0) process.exitCode = 1;
    });

  cache.command('gc')
    .description('remove what no recent build used (entries used in the last hour and blobs named by --lock are kept)')
    .option('--cache <dir>', 'cache folder (default: $DBCO_CACHE or ./cache)')
    .option('--keep-days <n>', 'keep what was used in the last N days (default 30)', '30')
    .option('--max-size <size>', 'then remove the least recently used until the cache is at most this big (e.g. 2G)')
    .option('--lock <file...>', 'keep every file these lock files name')
    .action(async (o: { cache?: string; keepDays: string; maxSize?: string; lock?: string[] }) => {
      if (!/^\d+$/.test(o.keepDays)) throw new DbcoError('USAGE', `cache gc: --keep-days ${o.keepDays}: expected a whole number of days`);
      const maxSize = o.maxSize === undefined ? undefined : parseSize(o.maxSize);
      if (o.maxSize !== undefined && maxSize === undefined) throw new DbcoError('USAGE', `cache gc: --max-size ${o.maxSize}: expected a size such as 500M or 2G`);
      const keep = new Set<string>();
      for (const file of o.lock ?? []) {
        let lock: { base?: { sha256?: string }; kernel?: { sha256?: string }; extensions?: { sha256?: string }[] };
        try {
          lock = JSON.parse(await readFile(file, 'utf8')) as typeof lock;
        } catch (err) {
          throw new DbcoError('USAGE', `cache gc: --lock ${file}: ${(err as Error).message}`);
        }
        for (const f of [lock.base, lock.kernel, ...(lock.extensions ?? [])]) if (f?.sha256) keep.add(f.sha256);
      }
      const r = await gcCache(root(o), { keepDays: Number(o.keepDays), ...(maxSize !== undefined ? { maxSize } : {}), keep });
      process.stdout.write(`removed ${r.removed} file(s), ${human(r.freed)}; ${human(r.left)} left\n`);
      if (r.deferred > 0) process.stdout.write(`${r.deferred} blob/layer file(s) not considered: a build is using the cache (run gc again later)\n`);
    });
}
