/**
 * bench docker, per engine: the 12-extension cold build by dbco, by the shell way (curl, md5sum, .dep walk,
 * unsquashfs, `tar | docker import`) and the engine's floor (`docker load -i` of dbco's own --output archive
 * of the same recipe), contenders in turns, on every engine; then the warm no-op, and dbco --output against
 * the shell way without its import (no engine at all).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { timedProcess, type TimedProcess } from './timed-process.js';

export interface BenchEngine { name: string; host: string }

/** The engines issue 9 names; DBCO_BENCH_ENGINES=name=unix:///path,... replaces the list. */
export function benchEngines(): BenchEngine[] {
  const given = process.env.DBCO_BENCH_ENGINES;
  if (given) return given.split(',').map((e) => { const [name, host] = e.split('='); return { name: name!, host: host! }; });
  return [
    { name: 'dockerd 20.10 (overlay2)', host: 'unix:///var/run/docker.sock' },
    { name: 'Docker 26 (containerd store)', host: 'unix:///run/dbco-docker26.sock' },
    { name: 'Podman 4.3', host: 'unix:///run/dbco-podman.sock' },
  ];
}

export interface EngineCase {
  dbco: string;
  recipe: string;
  /** The recipe's name: its images carry org.opencontainers.image.title=<title>. */
  title: string;
  tops: string[];
  mirrorUrl: string;
  shellWay: string;
  work: string;
  rounds: number;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const sec = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
const cpu = (rs: TimedProcess[]): string => `${median(rs.map((r) => r.cpuS)).toFixed(2)} CPU-s`;
const list = (rs: TimedProcess[]): string => rs.map((r) => (r.ms / 1000).toFixed(2)).join(', ');
const ratio = (a: number, b: number): string => (a / b).toFixed(2);
const load = (): string => os.loadavg().map((l) => l.toFixed(1)).join(' / ');

function docker(host: string, args: string[]): string {
  return execFileSync('docker', args, { env: { ...process.env, DOCKER_HOST: host }, stdio: ['ignore', 'pipe', 'ignore'] }).toString();
}

/** Removes every image of the recipe (dbco's, the floor's load) and the shell way's import from the engine. */
function clean(host: string, title: string): void {
  const ids = docker(host, ['images', '-q', '--filter', `label=org.opencontainers.image.title=${title}`]).split('\n').filter(Boolean);
  if (ids.length) docker(host, ['rmi', '-f', ...new Set(ids)]);
  try { docker(host, ['rmi', '-f', 'dbco-bench-shell:latest']); } catch { /* not there */ }
}

/** One engine's columns: N rounds of dbco cold, shell way, floor (the order turning each round), and dbco warm. */
async function engineRounds(c: EngineCase, engine: BenchEngine, archive: string, warmCache: string) {
  const env = { DOCKER_HOST: engine.host };
  const version = docker(engine.host, ['version', '--format', '{{.Server.Version}}']).trim();
  const runs = { dbco: [] as TimedProcess[], shell: [] as TimedProcess[], floor: [] as TimedProcess[], warm: [] as TimedProcess[], least: [] as TimedProcess[], importMs: [] as number[] };
  const contenders: Record<'dbco' | 'shell' | 'floor' | 'least', () => Promise<void>> = {
    dbco: async () => {
      const cache = mkdtempSync(path.join(c.work, 'cache-engine-'));
      const args = [c.dbco, 'image', c.recipe, '--docker', '--cache', cache, '--tag', `dbco-bench:${c.title}`];
      runs.dbco.push(await timedProcess(process.execPath, args, env));
      // The no-op: same recipe, same cache, the engine holds the image.
      runs.warm.push(await timedProcess(process.execPath, args, env));
      rmSync(cache, { recursive: true, force: true });
    },
    shell: async () => {
      const dir = path.join(c.work, 'shell');
      rmSync(dir, { recursive: true, force: true });
      const r = await timedProcess('bash', ['-c', c.shellWay, 'shell-way', c.mirrorUrl, dir, ...c.tops], env);
      runs.shell.push(r);
      runs.importMs.push(Number(r.stdout.trim().split(/\s+/)[1]));
      rmSync(dir, { recursive: true, force: true });
    },
    floor: async () => { runs.floor.push(await timedProcess('docker', ['load', '-q', '-i', archive], env)); },
    // The least a dbco run can spend on an empty engine: every input and layer already in its cache, so
    // only start-up, the recipe, the engine calls and the load itself are left (a bound on the cold run).
    least: async () => {
      runs.least.push(await timedProcess(process.execPath, [c.dbco, 'image', c.recipe, '--docker', '--cache', warmCache, '--tag', `dbco-bench:${c.title}`], env));
    },
  };
  const order = ['dbco', 'shell', 'floor', 'least'] as const;
  for (let i = 0; i < c.rounds; i++) {
    for (let k = 0; k < order.length; k++) {
      clean(engine.host, c.title);
      await contenders[order[(i + k) % order.length]!]();
    }
  }
  clean(engine.host, c.title);
  return { version, ...runs };
}

/** The per-engine table and the engine-less --output row, as markdown; throws when an engine does not answer. */
export async function engineTable(c: EngineCase): Promise<string> {
  const loadBefore = load();
  // The floor's input: dbco's own archive of the same recipe (a warm cache: only the file matters).
  const archive = path.join(c.work, 'floor.tar');
  const floorCache = mkdtempSync(path.join(c.work, 'cache-floor-'));
  await timedProcess(process.execPath, [c.dbco, 'image', c.recipe, '--docker', '--cache', floorCache, '--output', archive]);
  const startUp = (await timedProcess(process.execPath, [c.dbco, '--version'])).ms;

  const rows = [
    `| engine | dbco cold | shell way (its import) | floor: \`docker load -i\` | dbco / floor (goal <= 1.15) | dbco / shell (goal <= 0.5 on Docker 26) | warm no-op (goal < 0.5 s) | least: warm cache, empty engine | least / floor |`,
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const engine of benchEngines()) {
    const r = await engineRounds(c, engine, archive, floorCache);
    const least = median(r.least.map((x) => x.ms));
    const d = median(r.dbco.map((x) => x.ms));
    const sh = median(r.shell.map((x) => x.ms));
    const fl = median(r.floor.map((x) => x.ms));
    const warm = median(r.warm.map((x) => x.ms));
    rows.push(`| ${engine.name}, ${r.version} | ${sec(d)} (${list(r.dbco)}), ${cpu(r.dbco)} | ${sec(sh)} (${list(r.shell)}; import ${sec(median(r.importMs))}) | ` +
      `${sec(fl)} (${list(r.floor)}) | **${ratio(d, fl)}** | **${ratio(d, sh)}** | ${sec(warm)}, ${cpu(r.warm)} | ${sec(least)} (${list(r.least)}) | ${ratio(least, fl)} |`);
  }
  rmSync(floorCache, { recursive: true, force: true });

  // No engine: dbco --output cold against the shell way without its import, in turns.
  const out: TimedProcess[] = [];
  const shell: TimedProcess[] = [];
  for (let i = 0; i < c.rounds; i++) {
    const turn = [
      async () => {
        const cache = mkdtempSync(path.join(c.work, 'cache-output-'));
        out.push(await timedProcess(process.execPath, [c.dbco, 'image', c.recipe, '--docker', '--cache', cache, '--output', path.join(c.work, 'out.tar')]));
        rmSync(cache, { recursive: true, force: true });
      },
      async () => {
        const dir = path.join(c.work, 'shell');
        rmSync(dir, { recursive: true, force: true });
        shell.push(await timedProcess('bash', ['-c', c.shellWay, 'shell-way', c.mirrorUrl, dir, ...c.tops], { SHELL_IMPORT: '0' }));
        rmSync(dir, { recursive: true, force: true });
      },
    ];
    if (i % 2) turn.reverse();
    for (const t of turn) await t();
  }
  const o = median(out.map((x) => x.ms));
  const s = median(shell.map((x) => x.ms));
  rows.push(`| no engine: dbco \`--output\` cold vs the shell way without its import (goal <= 0.5) | ${sec(o)} (${list(out)}), ${cpu(out)} | ` +
    `${sec(s)} (${list(shell)}), ${cpu(shell)} | | | **${ratio(o, s)}** | |`);
  return [
    ...rows,
    '',
    `Medians of ${c.rounds} rounds; in each round dbco, the shell way and the floor take turns (the order turns each round), every`,
    'run cold for the engine (the recipe\'s images and the shell way\'s import removed first) and for dbco (a fresh cache); "warm no-op"',
    'is dbco again right after its cold run (same cache, the engine holds the image). Every run in brackets, in seconds. The floor is',
    'what the engine itself spends on dbco\'s layers: `docker load -i` of the archive `dbco image --output` writes for the same recipe.',
    'The shell way gives the engine one layer (no determinism, no per-tcz layers); dbco gives it one layer per tcz.',
    '"least" is a fourth contender in the same turns: dbco with every input and layer already in its cache, into an engine without the image:',
    'start-up, recipe, engine calls and the one load are all that is left of a run, so it bounds what any cold run can reach (a cold run also',
    `downloads, verifies and unpacks). \`dbco --version\` alone (Node start-up and the CLI entry) took ${sec(startUp)} on this machine.`,
    `Load average (1 / 5 / 15 min) when the table started: ${loadBefore}; when it ended: ${load()}, on ${os.cpus().length} cores.`,
  ].join('\n');
}
