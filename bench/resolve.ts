/**
 * Resolve + fetch speed: dbco against the sequential walk tce-load does (curl + md5sum + .dep recursion
 * in bash), both cold, against the same local HTTP mirror adding the same per-request latency; then a
 * warm `dbco resolve` (the CLI process end to end) of the same recipe.
 */
import { createServer, type Server } from 'node:http';
import { createReadStream, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import type { BenchSection } from './run.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
// dist/bench/resolve.js or bench/resolve.ts: the repo root is the first parent holding package.json.
const REPO = [path.resolve(HERE, '..'), path.resolve(HERE, '../..')].find((d) => {
  try { return statSync(path.join(d, 'package.json')).isFile(); } catch { return false; }
})!;
const MIRROR = process.env.DBCO_SHARED_MIRROR ?? path.resolve(REPO, '../shared/tc-mirror');
const LATENCY_MS = 5;
const RUNS = 3;
const WARM_RUNS = 10;
const EXTENSIONS = ['gtk2', 'curl', 'gnupg', 'aterm', 'wbar', 'Xprogs'];

/** The walk tce-load does, one request at a time: .dep recursion, then each .tcz, its .md5.txt, md5sum -c. */
const SHELL_WALK = `#!/bin/bash
set -u
mirror=$1; out=$2; shift 2
cd "$out" || exit 2
declare -A seen
order=()
scan() {
  local name=$1 d deps
  [[ -n "\${seen[$name]:-}" ]] && return 0
  seen[$name]=1
  if curl -sf -o "$name.dep" "$mirror/$name.dep"; then
    deps=$(sed -e 's/[[:space:]]//g' -e '/^$/d' "$name.dep")
    for d in $deps; do scan "$d"; done
  fi
  order+=("$name")
}
for e in "$@"; do scan "$e.tcz"; done
for name in "\${order[@]}"; do
  curl -sf -o "$name" "$mirror/$name" || { echo "missing $name" >&2; exit 1; }
  curl -sf -o "$name.md5.txt" "$mirror/$name.md5.txt" && md5sum -c --status "$name.md5.txt" || { echo "bad $name" >&2; exit 1; }
done
echo "\${#order[@]}"
`;

function slowServer(root: string): Promise<{ url: string; server: Server; count: () => number }> {
  let n = 0;
  const server = createServer((req, res) => {
    n++;
    setTimeout(() => {
      const rel = decodeURIComponent((req.url ?? '/').split('?')[0]!);
      const file = path.join(root, path.normalize(rel));
      let st;
      try { st = statSync(file); } catch { res.writeHead(404).end(); return; }
      if (!st.isFile() || !file.startsWith(root)) { res.writeHead(404).end(); return; }
      res.writeHead(200, { 'content-length': st.size });
      if (req.method === 'HEAD') { res.end(); return; }
      createReadStream(file).pipe(res);
    }, LATENCY_MS);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, count: () => n });
  }));
}

function run(cmd: string, args: string[]): Promise<{ ms: number; stdout: string; stderr: string; code: number }> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(cmd, args, { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ ms: Number(process.hrtime.bigint() - t0) / 1e6, stdout, stderr, code: code ?? 1 }));
  });
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function run_(): Promise<BenchSection> {
  const work = mkdtempSync(path.join(tmpdir(), 'dbco-bench-resolve-'));
  const srv = await slowServer(MIRROR);
  try {
    const base = path.join(work, 'base.gz');
    writeFileSync(base, 'fixture base\n');
    const recipe = path.join(work, 'bench.yaml');
    writeFileSync(recipe, `name: bench\nrelease: "7.2"\narch: x86\nbase: {file: base.gz}\nextensions: [${EXTENSIONS.join(', ')}]\n`);
    const script = path.join(work, 'walk.sh');
    writeFileSync(script, SHELL_WALK, { mode: 0o755 });
    const tcz = `${srv.url}/7.x/x86/tcz`;
    const dbco = path.join(REPO, 'bin/dbco.js');

    const shell: number[] = [];
    const cold: number[] = [];
    let count = 0;
    let shellRequests = 0;
    let dbcoRequests = 0;
    for (let i = 0; i < RUNS; i++) {
      const out = mkdtempSync(path.join(work, 'sh-'));
      const before = srv.count();
      const s = await run('bash', [script, tcz, out, ...EXTENSIONS]);
      if (s.code !== 0) throw new Error(`shell walk failed: ${s.stderr}`);
      shellRequests = srv.count() - before;
      count = Number(s.stdout.trim());
      shell.push(s.ms);
      const cache = path.join(work, `cache-${i}`);
      const before2 = srv.count();
      const d = await run(process.execPath, [dbco, 'fetch', recipe, '--mirror', srv.url, '--cache', cache, '--quiet']);
      if (d.code !== 0) throw new Error(`dbco fetch failed: ${d.stderr}`);
      dbcoRequests = srv.count() - before2;
      cold.push(d.ms);
    }
    const warmCache = path.join(work, 'cache-0');
    const warm: number[] = [];
    let resolved = 0;
    for (let i = 0; i < WARM_RUNS; i++) {
      const r = await run(process.execPath, [dbco, 'resolve', recipe, '--mirror', srv.url, '--cache', warmCache]);
      if (r.code !== 0) throw new Error(`dbco resolve failed: ${r.stderr}`);
      resolved = r.stdout.trim().split('\n').length;
      warm.push(r.ms);
    }
    // The same command with only its own modules loaded: separates resolve's cost from the CLI's imports.
    const alone = `const { Command } = await import('commander'); const { registerSources } = await import(${JSON.stringify(path.join(REPO, 'dist/src/cli/sources.js'))});`
      + ` const p = new Command('dbco'); registerSources(p); await p.parseAsync(process.argv.slice(1), { from: 'user' });`;
    const own: number[] = [];
    for (let i = 0; i < WARM_RUNS; i++) {
      const r = await run(process.execPath, ['--input-type=module', '-e', alone, 'resolve', recipe, '--mirror', srv.url, '--cache', warmCache]);
      if (r.code !== 0 || r.stdout.trim().split('\n').length !== resolved) throw new Error(`resolve alone failed: ${r.stderr}`);
      own.push(r.ms);
    }
    const node: number[] = [];
    for (let i = 0; i < WARM_RUNS; i++) node.push((await run(process.execPath, ['-e', '0'])).ms);

    const speedup = median(shell) / median(cold);
    const f = (ms: number): string => `${ms.toFixed(0)} ms`;
    return {
      title: 'Resolve and fetch',
      markdown: [
        `Recipe: 7.x/x86 ${EXTENSIONS.join(' + ')} = ${count} extensions (${resolved} by dbco), from a local HTTP server over a copy of the shared mirror adding ${LATENCY_MS} ms to every request (both sides). Median of ${RUNS} cold runs (empty cache / empty folder), ${WARM_RUNS} warm runs.`,
        '',
        '| what | median | min | requests | goal |',
        '|---|---|---|---|---|',
        `| sequential shell walk (bash: curl .dep recursion, curl .tcz + .md5.txt, md5sum -c) | ${f(median(shell))} | ${f(Math.min(...shell))} | ${shellRequests} | |`,
        `| \`dbco fetch\` cold (CLI process, resolve + fetch + verify into the cache) | ${f(median(cold))} | ${f(Math.min(...cold))} | ${dbcoRequests} | |`,
        `| speed-up | **${speedup.toFixed(1)}x** | | | >= 3x: ${speedup >= 3 ? 'met' : 'NOT met'} |`,
        `| \`dbco resolve\` warm (CLI process end to end, cached .dep answers) | ${f(median(warm))} | ${f(Math.min(...warm))} | | < 200 ms: ${median(warm) < 200 ? 'met' : 'NOT met'} |`,
        `| the same \`resolve\` with only its own modules loaded (commander + dist/src/cli/sources.js) | ${f(median(own))} | ${f(Math.min(...own))} | | |`,
        `| \`node -e 0\` (process start floor on this machine) | ${f(median(node))} | ${f(Math.min(...node))} | | |`,
      ].join('\n'),
    };
  } finally {
    srv.server.closeAllConnections();
    srv.server.close();
    rmSync(work, { recursive: true, force: true });
  }
}

export { run_ as run };
