/**
 * bench deps: what loading the Docker engine client costs a process at start-up: `node -e 0`, node:http
 * alone, and dbco's own Engine API client (src/outputs/docker/engine.ts over node:http, which replaced
 * dockerode: docs/dependencies.md has the before/after). The contenders take turns.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchSection } from './run.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ROUNDS = 11;
const CONTENDERS: [string, string][] = [
  ['`node -e 0` (the floor)', '0'],
  ['node:http (plain HTTP over the socket)', "require('node:http')"],
  ['dbco engine client (dist/src/outputs/docker/engine.js)', "import('./dist/src/outputs/docker/engine.js')"],
];

export async function run(): Promise<BenchSection> {
  const times = new Map<string, number[]>(CONTENDERS.map(([name]) => [name, []]));
  const modules = new Map<string, string>();
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 === 0 ? CONTENDERS : [...CONTENDERS].reverse();
    for (const [name, code] of order) {
      const started = process.hrtime.bigint();
      const res = spawnSync(process.execPath, ['-e', code], { cwd: REPO });
      if (res.status !== 0) throw new Error(`${name}: ${res.stderr.toString()}`);
      times.get(name)!.push(Number(process.hrtime.bigint() - started) / 1e6);
    }
  }
  for (const [name, code] of CONTENDERS) {
    const count = `${code}; const k = Object.keys(require.cache); console.log(k.length + ' ' + k.filter((m) => /grpc|protobuf/.test(m)).length)`;
    modules.set(name, spawnSync(process.execPath, ['-e', count], { cwd: REPO }).stdout.toString().trim());
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const floor = median(times.get(CONTENDERS[0]![0])!);
  const rows = CONTENDERS.map(([name]) => {
    const xs = times.get(name)!;
    const [all, grpc] = (modules.get(name) ?? '0 0').split(' ');
    return `| ${name} | ${Math.round(Math.min(...xs))} | ${Math.round(median(xs))} | ${Math.round(median(xs) - floor)} | ${all} | ${grpc} |`;
  });
  const markdown = [
    '| loads | best ms | median ms | median over the floor ms | CommonJS modules loaded | of them grpc/protobuf |',
    '|---|---|---|---|---|---|',
    ...rows,
    '',
    `${ROUNDS} rounds, the contenders taking turns, each a fresh \`node -e\` in the repository (its node_modules).`,
    'dbco loads its engine client only on the Docker paths (imported on use), so `dbco resolve` and `dbco fetch` never pay it. The dockerode 5 it replaced: +3.2 s median over the floor in the run of 2026-12-02 morning (208 CommonJS modules, 118 of them grpc/protobuf; docs/dependencies.md).',
  ].join('\n');
  return { title: 'deps: start-up cost of the Docker client', markdown };
}
