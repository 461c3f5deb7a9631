/**
 * npm run bench: runs every benchmark section side by side on this machine and writes
 * docs/benchmarks.md with the date and the machine. Each section module exports run(): BenchSection.
 * Select sections with BENCH=squashfs,resolve,...
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import { execFileSync } from 'node:child_process';

export interface BenchSection {
  title: string;
  /** Markdown body: a table of figures and a line on what was compared and how. */
  markdown: string;
}

const SECTIONS: Record<string, string> = {
  squashfs: './squashfs.js',
  resolve: './resolve.js',
  docker: './docker.js',
  disk: './disk.js',
};

async function main(): Promise<void> {
  const wanted = process.env.BENCH ? process.env.BENCH.split(',') : Object.keys(SECTIONS);
  const parts: string[] = [];
  for (const name of wanted) {
    const modPath = SECTIONS[name];
    if (!modPath) throw new Error(`unknown bench section ${name}`);
    console.error(`bench: ${name} ...`);
    const mod = (await import(modPath)) as { run(): Promise<BenchSection> };
    const section = await mod.run();
    parts.push(`## ${section.title}\n\n${section.markdown.trim()}\n`);
  }
  const cpu = os.cpus()[0]?.model ?? 'unknown cpu';
  let kernel = '';
  try { kernel = execFileSync('uname', ['-sr']).toString().trim(); } catch { /* informational only */ }
  const header = [
    '# dbco benchmarks',
    '',
    `Measured ${new Date().toISOString()} on ${os.cpus().length} x ${cpu}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${kernel}, Node ${process.version}.`,
    'Written by `npm run bench`; every comparison below ran side by side in the same run.',
    '',
  ].join('\n');
  mkdirSync('docs', { recursive: true });
  writeFileSync('docs/benchmarks.md', `${header}\n${parts.join('\n')}`);
  console.error('bench: wrote docs/benchmarks.md');
}

await main();
