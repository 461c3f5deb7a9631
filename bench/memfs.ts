/**
 * bench memfs: the same unit cases of our own state-holding logic (cache blobs, metadata records, the
 * URL index, the recipe memo: bench/memfs/state-cases.ts) run by vitest on the real filesystem and on
 * memfs (vi.mock of node:fs), the two taking turns, to tell whether moving such tests to memfs pays.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchSection } from './run.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ROUNDS = 7;
const KINDS = ['real', 'memfs'] as const;

interface Report { testResults: { startTime: number; endTime: number; assertionResults: { title: string; duration: number; status: string }[] }[] }

export async function run(): Promise<BenchSection> {
  const work = mkdtempSync(path.join(os.tmpdir(), 'dbco-bench-memfs-'));
  const cases = new Map<string, Record<(typeof KINDS)[number], number[]>>();
  const files: Record<(typeof KINDS)[number], number[]> = { real: [], memfs: [] };
  try {
    for (let r = 0; r < ROUNDS; r++) {
      for (const kind of r % 2 === 0 ? KINDS : [...KINDS].reverse()) {
        const out = path.join(work, `${kind}-${r}.json`);
        const res = spawnSync('npx', ['vitest', 'run', '--config', 'bench/memfs/vitest.config.ts', `bench/memfs/${kind}.cases.ts`, '--reporter=json', `--outputFile=${out}`], { cwd: REPO, encoding: 'utf8' });
        if (res.status !== 0) throw new Error(`vitest ${kind} failed: ${res.stderr.slice(-2000)}`);
        const report = JSON.parse(readFileSync(out, 'utf8')) as Report;
        const file = report.testResults[0]!;
        files[kind].push(file.endTime - file.startTime);
        for (const a of file.assertionResults) {
          if (!cases.has(a.title)) cases.set(a.title, { real: [], memfs: [] });
          cases.get(a.title)![kind].push(a.duration);
        }
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const min = (xs: number[]): number => Math.min(...xs);
  const ms = (x: number): string => `${Math.round(x)}`;
  const row = (what: string, v: Record<(typeof KINDS)[number], number[]>): string =>
    `| ${what} | ${ms(min(v.real))} / ${ms(median(v.real))} / ${ms(Math.max(...v.real))} | ${ms(min(v.memfs))} / ${ms(median(v.memfs))} / ${ms(Math.max(...v.memfs))} | ${(median(v.real) / median(v.memfs)).toFixed(1)}x |`;
  const markdown = [
    '| case | real fs ms (best / median / worst) | memfs ms (best / median / worst) | median speed-up |',
    '|---|---|---|---|',
    ...[...cases].map(([title, v]) => row(title, v)),
    row('the whole file (tests only, vitest start-up excluded)', files),
    '',
    `${ROUNDS} rounds, real and memfs taking turns; each a fresh \`vitest run\` of bench/memfs/real.cases.ts or memfs.cases.ts (the same cases,`,
    'bench/memfs/state-cases.ts: 50 blobs, 100 metadata records, 50 index records, 20 recipes loaded twice). The real filesystem pays the',
    "cache's fsync on every write, which on a disk shared with other jobs ranges from nothing to seconds; memfs pays none. Vitest's own start-up",
    '(module transform and import, several seconds per file here) is the same for both and not counted.',
  ].join('\n');
  return { title: 'memfs: state-holding unit cases on the real filesystem and on memfs', markdown };
}
