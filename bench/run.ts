/**
 * npm run bench: runs every benchmark section side by side on this machine and writes
 * docs/benchmarks.md with the date and the machine. Each section module exports run(): BenchSection.
 * Select sections with BENCH=squashfs,resolve,...
 */
import { writeFileSync, mkdirSync, readFileSync, existsSync } from 'node:fs';
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
  'disk-formats': './disk.js#runFormats',
  registry: './registry.js',
  tar: './tar.js',
  memfs: './memfs.js',
  deps: './deps.js',
};

async function main(): Promise<void> {
  const wanted = process.env.BENCH ? process.env.BENCH.split(',') : Object.keys(SECTIONS);
  const parts = new Map<string, string>();
  for (const name of wanted) {
    const modPath = SECTIONS[name];
    if (!modPath) throw new Error(`unknown bench section ${name}`);
    console.error(`bench: ${name} ...`);
    const [file, fn = 'run'] = modPath.split('#') as [string, string?];
    const mod = (await import(file)) as Record<string, () => Promise<BenchSection>>;
    const section = await mod[fn]!();
    parts.set(section.title, `## ${section.title}\n\n${section.markdown.trim()}\n`);
  }
  const cpu = os.cpus()[0]?.model ?? 'unknown cpu';
  let kernel = '';
  try { kernel = execFileSync('uname', ['-sr']).toString().trim(); } catch { /* informational only */ }
  const header = [
    '# dbco benchmarks',
    '',
    `Last written ${new Date().toISOString()} on ${os.cpus().length} x ${cpu}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${kernel}, Node ${process.version}.`,
    'Written by `npm run bench` (`BENCH=squashfs,resolve,docker,disk,disk-formats,registry,tar,memfs,deps` picks sections); within each section every comparison ran side by side in one run, on this machine.',
    '',
  ].join('\n');
  // A run of some sections keeps the others' figures from their last run (each section says when it ran).
  const sections = existsSync('docs/benchmarks.md') ? previousSections(readFileSync('docs/benchmarks.md', 'utf8')) : new Map<string, string>();
  for (const [title, body] of parts) sections.set(title, body.replace(/\n$/, `\n\n_Section measured ${new Date().toISOString().slice(0, 10)}._\n`));
  mkdirSync('docs', { recursive: true });
  writeFileSync('docs/benchmarks.md', `${header}\n${[...sections.values()].join('\n')}`);
  console.error('bench: wrote docs/benchmarks.md');
}

function previousSections(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const chunk of text.split(/^(?=## )/m).slice(1)) {
    const title = chunk.slice(3, chunk.indexOf('\n')).trim();
    out.set(title, chunk.trimEnd() + '\n');
  }
  return out;
}

await main();
