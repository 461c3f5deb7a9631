/**
 * bench docker: `dbco image --docker` against the shell way (curl, md5sum -c, a .dep walk, cpio,
 * unsquashfs, tar | docker import), from a local HTTP mirror, side by side on this machine; then a warm
 * rebuild, a rebuild after one extension changed, and peak memory on >= 300 MB of extension data.
 */
import { spawn, execFileSync } from 'node:child_process';
import { createReadStream, statSync, mkdirSync, cpSync, copyFileSync, symlinkSync, writeFileSync, readFileSync, rmSync, mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchSection } from './run.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SHARED = process.env.DBCO_SHARED_MIRROR ?? path.resolve(REPO, '../shared/tc-mirror');
const DBCO = path.join(REPO, 'bin/dbco.js');
const TOP = 'gtk2';
/** Outside gtk2's dependency tree: the one the 'changed' run swaps. */
const EXTRA = ['libidn', 'pth'] as const;

interface Run { ms: number; maxRssMb: number; stdout: string; stderr: string }

/** Runs a command under /usr/bin/time (for maxRSS) without blocking this process's HTTP server. */
function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const rssFile = path.join(os.tmpdir(), `dbco-bench-rss-${process.pid}-${Math.random().toString(36).slice(2)}`);
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn('/usr/bin/time', ['-f', '%M', '-o', rssFile, cmd, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const stderr = Buffer.concat(err).toString();
      if (code !== 0) { reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${stderr.slice(-2000)}`)); return; }
      const maxRssMb = Number(readFileSync(rssFile, 'utf8').trim().split('\n').pop()) / 1024;
      rmSync(rssFile, { force: true });
      resolve({ ms, maxRssMb, stdout: Buffer.concat(out).toString(), stderr });
    });
  });
}

async function serve(root: string): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const rel = decodeURIComponent((req.url ?? '/').split('?')[0]!);
    const file = path.join(root, path.normalize(rel));
    let size: number;
    try { const st = statSync(file); if (!st.isFile()) throw new Error('dir'); size = st.size; } catch { res.writeHead(404).end(); return; }
    res.writeHead(200, { 'content-length': size });
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

function md5File(file: string): void {
  const sum = createHash('md5').update(readFileSync(file)).digest('hex');
  writeFileSync(`${file}.md5.txt`, `${sum}  ${path.basename(file)}\n`);
}

function rmiByTitle(title: string): void {
  const ids = execFileSync('docker', ['images', '-q', '--filter', `label=org.opencontainers.image.title=${title}`]).toString().split('\n').filter(Boolean);
  if (ids.length) execFileSync('docker', ['rmi', '-f', ...new Set(ids)], { stdio: 'ignore' });
}

const SHELL_WAY = `
set -euo pipefail
M="$1"; W="$2"; shift 2
mkdir -p "$W/dl" "$W/root"; cd "$W/dl"
curl -fsS -O "$M/7.x/x86/release/distribution_files/core.gz" -O "$M/7.x/x86/release/distribution_files/core.gz.md5.txt"
md5sum -c --quiet core.gz.md5.txt
declare -A seen; order=()
walk() {
  local n="$1"; [ -n "\${seen[$n]:-}" ] && return 0; seen[$n]=1
  if curl -fsS -o "$n.dep" "$M/7.x/x86/tcz/$n.dep" 2>/dev/null; then
    for d in $(sed 's/[[:space:]]//g' "$n.dep"); do walk "$d"; done
  fi
  order+=("$n")
}
for top in "$@"; do walk "$top.tcz"; done
for n in "\${order[@]}"; do curl -fsS -O "$M/7.x/x86/tcz/$n" -O "$M/7.x/x86/tcz/$n.md5.txt"; md5sum -c --quiet "$n.md5.txt"; done
cd "$W/root"; gzip -dc "$W/dl/core.gz" | cpio -idm --quiet
for n in "\${order[@]}"; do unsquashfs -f -n -q -d . "$W/dl/$n" >/dev/null; done
tar -C "$W/root" -c . | docker import - dbco-bench-shell:latest >/dev/null
echo "\${#order[@]}"
`;

export async function run(): Promise<BenchSection> {
  for (const tool of ['curl', 'md5sum', 'cpio', 'unsquashfs', 'mksquashfs', 'docker', '/usr/bin/time', 'busybox']) {
    execFileSync('sh', ['-c', `command -v ${tool}`]);
  }
  const work = mkdtempSync(path.join(os.tmpdir(), 'dbco-bench-docker-'));
  const mirrorRoot = path.join(work, 'mirror');
  cpSync(path.join(SHARED, '7.x/x86/tcz'), path.join(mirrorRoot, '7.x/x86/tcz'), { recursive: true });
  // A small x86 core.gz (the real 7.x core.gz is not in the shared mirror): busybox and a few files.
  const baseTree = path.join(work, 'base');
  for (const d of ['bin', 'etc', 'tmp', 'usr/local/tce.installed']) mkdirSync(path.join(baseTree, d), { recursive: true });
  copyFileSync('/bin/busybox', path.join(baseTree, 'bin/busybox'));
  symlinkSync('busybox', path.join(baseTree, 'bin/sh'));
  writeFileSync(path.join(baseTree, 'etc/motd'), 'bench core\n');
  const dist = path.join(mirrorRoot, '7.x/x86/release/distribution_files');
  mkdirSync(dist, { recursive: true });
  execFileSync('sh', ['-c', `cd ${baseTree} && find . -mindepth 1 | sort | cpio -o -H newc --quiet | gzip -9n > ${dist}/core.gz`]);
  md5File(path.join(dist, 'core.gz'));
  const mirror = await serve(mirrorRoot);
  const rows: string[] = [];
  try {
    const recipe = path.join(work, 'bench.yaml');
    writeFileSync(recipe, `name: benchgtk\nrelease: "7.2"\narch: x86\nmirror: ${mirror.url}\nbase: core.gz\nextensions: [${TOP}, ${EXTRA[0]}]\nimage:\n  setup: none\n`);
    const cache = path.join(work, 'cache');
    rmiByTitle('benchgtk');
    const cold = await timed(process.execPath, [DBCO, 'image', recipe, '--docker', '--cache', cache, '--tag', 'dbco-bench:gtk']);
    const layerCount = Number(/(\d+) layer\(s\)/.exec(cold.stderr)?.[1] ?? 0);
    execFileSync('docker', ['rmi', '-f', 'dbco-bench-shell:latest'], { stdio: 'ignore' });
    const shell = await timed('bash', ['-c', SHELL_WAY, 'shell-way', mirror.url, path.join(work, 'shell'), TOP, EXTRA[0]]);
    const extCount = Number(shell.stdout.trim());
    rows.push(`| cold build, ${extCount} x86 extensions (${TOP}, ${EXTRA[0]} and deps) + base, setup none | ${(cold.ms / 1000).toFixed(2)} s, ${cold.maxRssMb.toFixed(0)} MB | ${(shell.ms / 1000).toFixed(2)} s, ${shell.maxRssMb.toFixed(0)} MB (bash; tools' own RSS not summed) | ${layerCount} layers vs 1 |`);

    const warm = await timed(process.execPath, [DBCO, 'image', recipe, '--docker', '--cache', cache, '--tag', 'dbco-bench:gtk']);
    rows.push(`| warm rebuild, nothing changed (goal < 1 s) | ${(warm.ms / 1000).toFixed(2)} s | (no cache: as cold) | ${/already had/.test(warm.stderr) ? 'engine had the image ID: tag only, nothing sent' : 'loaded again'} |`);

    // Change one extension: the recipe swaps its one extra extension for another.
    writeFileSync(recipe, readFileSync(recipe, 'utf8').replace(`[${TOP}, ${EXTRA[0]}]`, `[${TOP}, ${EXTRA[1]}]`));
    const changed = await timed(process.execPath, [DBCO, 'image', recipe, '--docker', '--cache', cache, '--tag', 'dbco-bench:gtk']);
    const rebuilt = /rebuilt: (.*)/.exec(changed.stderr)?.[1] ?? '?';
    rows.push(`| one extension changed (${EXTRA[0]}.tcz -> ${EXTRA[1]}.tcz) | ${(changed.ms / 1000).toFixed(2)} s | (as cold) | rebuilt: ${rebuilt}; docker load still streams every layer (the API takes whole archives); the engine keeps the unchanged ones |`);

    // Split of the cold time: the same cold build written with --output (no engine) vs loaded.
    const outCold = await timed(process.execPath, [DBCO, 'image', recipe, '--docker', '--cache', path.join(work, 'cache-out'), '--output', path.join(work, 'image.tar')]);
    rows.push(`| cold build written to a file (--output, no engine) | ${(outCold.ms / 1000).toFixed(2)} s, ${outCold.maxRssMb.toFixed(0)} MB | | the rest of the cold time is the engine registering each layer |`);

    // The engine registers layers one by one: the same cold build under a layer budget of 8.
    rmiByTitle('benchgtk');
    const budget = await timed(process.execPath, [DBCO, 'image', recipe, '--docker', '--cache', path.join(work, 'cache-budget'), '--tag', 'dbco-bench:gtk8', '--max-layers', '8']);
    rows.push(`| cold build, same recipe, --max-layers 8 | ${(budget.ms / 1000).toFixed(2)} s, ${budget.maxRssMb.toFixed(0)} MB | | smallest extensions merged into shared layers |`);

    // Peak memory: four 80 MiB incompressible extensions over the real 6.4.1 rootfs64.gz.
    const big = path.join(work, 'big-mirror');
    const bigDist = path.join(big, '6.x/x86_64/release/distribution_files');
    mkdirSync(bigDist, { recursive: true });
    for (const f of ['rootfs64.gz', 'rootfs64.gz.md5.txt']) copyFileSync(path.join(SHARED, '6.x/x86_64/release/distribution_files', f), path.join(bigDist, f));
    const bigTcz = path.join(big, '6.x/x86_64/tcz');
    mkdirSync(bigTcz, { recursive: true });
    const names: string[] = [];
    for (let i = 0; i < 4; i++) {
      const t = path.join(work, `big${i}`);
      mkdirSync(path.join(t, 'usr/local/share/big'), { recursive: true });
      execFileSync('sh', ['-c', `head -c 83886080 /dev/urandom > ${t}/usr/local/share/big/blob${i}.bin`]);
      execFileSync('mksquashfs', [t, path.join(bigTcz, `big${i}.tcz`), '-noappend', '-all-root', '-quiet', '-no-progress']);
      md5File(path.join(bigTcz, `big${i}.tcz`));
      rmSync(t, { recursive: true, force: true });
      names.push(`big${i}`);
    }
    const bigServer = await serve(big);
    try {
      const bigRecipe = path.join(work, 'big.yaml');
      writeFileSync(bigRecipe, `name: benchbig\nrelease: "6.4.1"\narch: x86_64\nmirror: ${bigServer.url}\nbase: rootfs64.gz\nextensions: [${names.join(', ')}]\nimage:\n  setup: none\n`);
      rmiByTitle('benchbig');
      const mem = await timed(process.execPath, [DBCO, 'image', bigRecipe, '--docker', '--cache', path.join(work, 'cache-big'), '--tag', 'dbco-bench:big']);
      rows.push(`| peak memory, 4 x 80 MiB extensions (320 MiB + base), cold, loaded into the engine (goal <= 200 MB) | ${(mem.ms / 1000).toFixed(2)} s, maxRSS ${mem.maxRssMb.toFixed(0)} MB | | |`);
    } finally {
      await bigServer.close();
    }
  } finally {
    await mirror.close();
    rmiByTitle('benchgtk');
    rmiByTitle('benchbig');
    execFileSync('docker', ['rmi', '-f', 'dbco-bench-shell:latest'], { stdio: 'ignore' });
    rmSync(work, { recursive: true, force: true });
  }
  return {
    title: 'Docker image (dbco image --docker)',
    markdown: [
      '| case | dbco | shell way | notes |',
      '|---|---|---|---|',
      ...rows,
      '',
      'dbco: the built CLI (`node bin/dbco.js image --docker`), fresh cache, from a local HTTP mirror (real TC 7.x x86 tczs,',
      'fixture core.gz), image loaded through the Engine API. Shell way: bash with curl, md5sum -c, a recursive .dep walk,',
      'cpio, unsquashfs and `tar | docker import` (one layer, no determinism). Times are wall clock; maxRSS from /usr/bin/time.',
    ].join('\n'),
  };
}
