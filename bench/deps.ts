/**
 * bench deps: what loading each way of talking to the Docker engine costs a process at start-up:
 * `node -e 0`, docker-modem alone (the HTTP/socket layer dockerode is built on), dockerode (which
 * requires @grpc/grpc-js, @grpc/proto-loader and protobufjs at load time for BuildKit sessions), and
 * node:http alone (plain HTTP over the socket). The contenders take turns.
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
  ['docker-modem 5 alone', "require('docker-modem')"],
  ['dockerode 5', "require('dockerode')"],
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
    'dbco loads dockerode only on the Docker paths (src/outputs/docker/engine.ts, imported on use), so `dbco resolve` and `dbco fetch` never pay it.',
  ].join('\n');
  return { title: 'deps: start-up cost of the Docker client', markdown };
}
