/**
 * bench docker: `dbco image --docker` against the shell way (curl, md5sum -c, a .dep walk, cpio,
 * unsquashfs, tar | docker import), from a local HTTP mirror, side by side on this machine; then a warm
 * rebuild, a rebuild after one extension changed, and peak memory on >= 300 MB of extension data.
 */
import { execFileSync } from 'node:child_process';
import { createReadStream, statSync, mkdirSync, cpSync, copyFileSync, symlinkSync, writeFileSync, readFileSync, rmSync, mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchSection } from './run.js';
import { timedProcess, type TimedProcess } from './timed-process.js';
import { engineTable } from './docker-engines.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SHARED = process.env.DBCO_SHARED_MIRROR ?? path.resolve(REPO, '../shared/tc-mirror');
const DBCO = path.join(REPO, 'bin/dbco.js');
const TOP = 'gtk2';
/** The smaller cold case: 12 extensions with its dependencies (the issue's ">= 12"). */
const TOP12 = 'gdk-pixbuf2';
/** Cold runs per case: the machine is shared, so the median of a few says more than one. */
const COLD_RUNS = 3;
/** Rounds of the per-engine table (each: dbco, shell way, floor on every engine). */
const ENGINE_ROUNDS = Number(process.env.DBCO_BENCH_ROUNDS ?? 5);
/** Outside gtk2's dependency tree: the one the 'changed' run swaps. */
const EXTRA = ['libidn', 'pth'] as const;

const timed = timedProcess;

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

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const sec = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;

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
if [ "\${SHELL_IMPORT:-1}" = 0 ]; then echo "\${#order[@]} 0"; exit 0; fi
t0=$(date +%s%N)
tar -C "$W/root" -c . | docker import - dbco-bench-shell:latest >/dev/null
echo "\${#order[@]} $(( ($(date +%s%N) - t0) / 1000000 ))"
`;

export async function run(): Promise<BenchSection> {
  for (const tool of ['curl', 'md5sum', 'cpio', 'unsquashfs', 'mksquashfs', 'docker', '/usr/bin/time', 'busybox']) {
    execFileSync('sh', ['-c', `command -v ${tool}`]);
  }
  const engineVersion = execFileSync('docker', ['version', '--format', '{{.Server.Version}}']).toString().trim();
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
  let perEngine = '';
  try {
    const recipe = path.join(work, 'bench.yaml');
    writeFileSync(recipe, `name: benchgtk\nrelease: "7.2"\narch: x86\nmirror: ${mirror.url}\nbase: core.gz\nextensions: [${TOP}, ${EXTRA[0]}]\nimage:\n  setup: none\n`);
    const recipe12 = path.join(work, 'bench12.yaml');
    writeFileSync(recipe12, `name: bench12\nrelease: "7.2"\narch: x86\nmirror: ${mirror.url}\nbase: core.gz\nextensions: [${TOP12}]\nimage:\n  setup: none\n`);
    const cache = path.join(work, 'cache');
    let coldRun = 0;
    /** Cold dbco and the shell way, alternating, each from nothing (fresh cache, engine without the layers). */
    const coldCase = async (file: string, title: string, tops: string[]) => {
      const dbco: TimedProcess[] = [];
      const shell: { ms: number; importMs: number; exts: number; rss: number }[] = [];
      for (let i = 0; i < COLD_RUNS; i++) {
        rmiByTitle(title);
        const c = i === COLD_RUNS - 1 && title === 'benchgtk' ? cache : path.join(work, `cache-cold-${coldRun++}`);
        dbco.push(await timed(process.execPath, [DBCO, 'image', file, '--docker', '--cache', c, '--tag', `dbco-bench:${title}`]));
        execFileSync('docker', ['rmi', '-f', 'dbco-bench-shell:latest'], { stdio: 'ignore' });
        rmSync(path.join(work, 'shell'), { recursive: true, force: true });
        const sh = await timed('bash', ['-c', SHELL_WAY, 'shell-way', mirror.url, path.join(work, 'shell'), ...tops]);
        const [exts, importMs] = sh.stdout.trim().split(/\s+/).map(Number);
        shell.push({ ms: sh.ms, importMs: importMs!, exts: exts!, rss: sh.maxRssMb });
      }
      const layers = Number(/(\d+) layer\(s\)/.exec(dbco[0]!.stderr)?.[1] ?? 0);
      const d = median(dbco.map((r) => r.ms));
      const sh = median(shell.map((r) => r.ms));
      return { layers, exts: shell[0]!.exts, dbcoMs: d, shellMs: sh, importMs: median(shell.map((r) => r.importMs)),
        rss: Math.max(...dbco.map((r) => r.maxRssMb)), all: dbco.map((r) => sec(r.ms)).join(', '), shellAll: shell.map((r) => sec(r.ms)).join(', ') };
    };
    perEngine = await engineTable({ dbco: DBCO, recipe: recipe12, title: 'bench12', tops: [TOP12], mirrorUrl: mirror.url, shellWay: SHELL_WAY, work, rounds: ENGINE_ROUNDS });
    const large = await coldCase(recipe, 'benchgtk', [TOP, EXTRA[0]]);
    for (const c of [{ ...large, what: `${large.exts} x86 extensions (${TOP}, ${EXTRA[0]} and deps)` }]) {
      rows.push(`| cold build, ${c.what} + base, setup none (median of ${COLD_RUNS}) | ${sec(c.dbcoMs)} (${c.all}), ${c.rss.toFixed(0)} MB | ${sec(c.shellMs)} (${c.shellAll}); its docker import ${sec(c.importMs)} | ${c.layers} layers vs 1; goal (dbco no slower) ${c.dbcoMs <= c.shellMs ? 'holds' : `missed by ${sec(c.dbcoMs - c.shellMs)}`} |`);
    }

    const warm = await timed(process.execPath, [DBCO, 'image', recipe, '--docker', '--cache', cache, '--tag', 'dbco-bench:gtk']);
    rows.push(`| warm rebuild, nothing changed (goal < 1 s) | ${(warm.ms / 1000).toFixed(2)} s | (no cache: as cold) | ${/already had/.test(warm.stderr) ? 'engine had the image ID: tag only, nothing sent' : 'loaded again'} |`);

    // Change one extension: the recipe swaps its one extra extension for another.
    writeFileSync(recipe, readFileSync(recipe, 'utf8').replace(`[${TOP}, ${EXTRA[0]}]`, `[${TOP}, ${EXTRA[1]}]`));
    const changed = await timed(process.execPath, [DBCO, 'image', recipe, '--docker', '--cache', cache, '--tag', 'dbco-bench:gtk']);
    const rebuilt = /rebuilt: (.*)/.exec(changed.stderr)?.[1] ?? '?';
    rows.push(`| one extension changed (${EXTRA[0]}.tcz -> ${EXTRA[1]}.tcz) | ${(changed.ms / 1000).toFixed(2)} s | (as cold) | rebuilt: ${rebuilt}; only the rebuilt layers' blobs are sent (the unchanged ones go first as an intermediate image the engine already has) |`);

    // Where the cold time goes: the same build without the engine, then the engine's load of that file by hand.
    const outCache = path.join(work, 'cache-out');
    const outCold = await timed(process.execPath, [DBCO, 'image', recipe, '--docker', '--cache', outCache, '--output', path.join(work, 'image.tar')]);
    rmiByTitle('benchgtk');
    const load = await timed('docker', ['load', '-i', path.join(work, 'image.tar')]);
    rmiByTitle('benchgtk');
    const outWarm = await timed(process.execPath, [DBCO, 'image', recipe, '--docker', '--cache', outCache, '--output', path.join(work, 'image2.tar')]);
    const perLayer = load.ms / large.layers;
    rows.push(`| breakdown of the ${large.exts}-extension cold build | dbco without the engine (--output, cold): ${sec(outCold.ms)} (the same again with every layer cached: ${sec(outWarm.ms)}); \`docker load -i\` of that file by hand: ${sec(load.ms)} = ${perLayer.toFixed(0)} ms per layer | docker import of its one layer: ${sec(large.importMs)} | dockerd registers layers one after another, each through a re-exec of dockerd (docker-untar), ~${perLayer.toFixed(0)} ms each whatever the size: ${large.layers} layers cost ~${sec(load.ms)} alone; dbco loads the layers built so far while it builds the rest, so its cold time is about max(build, load) + one load |`);

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
      `Cold build of 12 real x86 tczs (${TOP12} and its dependencies) + a small base, setup none, per engine:`,
      '',
      perEngine,
      '',
      `The other cases, on the default engine (DOCKER_HOST, else /var/run/docker.sock):`,
      '',
      '| case | dbco | shell way | notes |',
      '|---|---|---|---|',
      ...rows,
      '',
      'dbco: the built CLI (`node bin/dbco.js image --docker`), fresh cache, from a local HTTP mirror (real TC 7.x x86 tczs,',
      'fixture core.gz), image loaded through the Engine API. Shell way: bash with curl, md5sum -c, a recursive .dep walk,',
      'cpio, unsquashfs and `tar | docker import` (one layer, no determinism). Times are wall clock; maxRSS from /usr/bin/time.',
      `Engine: Docker ${engineVersion} (overlay2). The goal "cold: dbco no slower than the shell way" is bounded by the engine, not by`,
      'dbco: the issue asks for one layer per tcz (same tcz, same layer digest) under a budget of 100, and dockerd spends a fixed',
      'time per layer it registers, one after another, while the shell way hands it one layer. dbco overlaps its own work with',
      'that: the layers built so far go in as an intermediate image while the rest are built, later loads leave their blobs out',
      'and the intermediate images are removed (the final image and its ID are the same as with one load). That is dockerd\'s',
      'graph driver only: on the containerd store and Podman each load is a whole import, so there dbco streams one archive',
      'while it builds, each layer as soon as it is written (docs/engines.md).',
      'Where the engine\'s per-layer time goes (perf traces: most of it is the Go start-up of the dockerd it re-executes per layer)',
      'and what does not change it: [docker-load.md](docker-load.md).',
    ].join('\n'),
  };
}
