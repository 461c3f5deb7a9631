/**
 * bench registry: push of the 12-extension image (bench/docker.ts's gdk-pixbuf2 recipe) to a local
 * distribution 2.8 registry, cold (a registry of its own with empty storage, a fresh dbco cache) and again
 * (nothing to upload), side by side with `skopeo copy oci-archive:dbco.tar docker://...` of the same
 * archive, contenders in turns.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchSection } from './run.js';
import { timedProcess } from './timed-process.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SHARED = process.env.DBCO_SHARED_MIRROR ?? path.resolve(REPO, '../shared/tc-mirror');
const DBCO = path.join(REPO, 'bin/dbco.js');
const REGISTRY_BIN = process.env.DBCO_REGISTRY_BIN ?? '/var/cache/dbco-test/docker-registry/usr/bin/docker-registry';
const RUNS = 3;

const timed = (cmd: string, args: string[]) => timedProcess(cmd, args);

const freePort = (): Promise<number> => new Promise((resolve) => {
  const s = createServer();
  s.listen(0, '127.0.0.1', () => { const { port } = s.address() as { port: number }; s.close(() => resolve(port)); });
});

async function startRegistry(dir: string): Promise<{ host: string; child: ChildProcess }> {
  const port = await freePort();
  mkdirSync(dir, { recursive: true });
  const config = path.join(dir, 'config.yml');
  writeFileSync(config, `version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${dir}/data\nhttp:\n  addr: 127.0.0.1:${port}\n`);
  const child = spawn(REGISTRY_BIN, ['serve', config], { stdio: 'ignore' });
  const host = `127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(`http://${host}/v2/`)).status === 200) return { host, child };
    } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('docker-registry did not start');
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const sec = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;

export async function run(): Promise<BenchSection> {
  if (!existsSync(REGISTRY_BIN)) throw new Error(`${REGISTRY_BIN} missing: run scripts/install-deps.sh`);
  execFileSync('sh', ['-c', 'command -v skopeo']);
  const work = mkdtempSync(path.join(os.tmpdir(), 'dbco-bench-registry-'));
  const registries: ChildProcess[] = [];
  try {
    // The docker bench's 12-extension recipe: x86 7.x tczs from the shared mirror and a small busybox core.gz.
    const mirror = path.join(work, 'mirror');
    cpSync(path.join(SHARED, '7.x/x86/tcz'), path.join(mirror, '7.x/x86/tcz'), { recursive: true });
    const base = path.join(work, 'base');
    for (const d of ['bin', 'etc', 'tmp']) mkdirSync(path.join(base, d), { recursive: true });
    copyFileSync('/bin/busybox', path.join(base, 'bin/busybox'));
    symlinkSync('busybox', path.join(base, 'bin/sh'));
    const dist = path.join(mirror, '7.x/x86/release/distribution_files');
    mkdirSync(dist, { recursive: true });
    execFileSync('sh', ['-c', `cd ${base} && find . -mindepth 1 | sort | cpio -o -H newc --quiet | gzip -9n > ${dist}/core.gz`]);
    const sum = createHash('md5').update(readFileSync(path.join(dist, 'core.gz'))).digest('hex');
    writeFileSync(path.join(dist, 'core.gz.md5.txt'), `${sum}  core.gz\n`);
    const recipe = path.join(work, 'bench12.yaml');
    writeFileSync(recipe, `name: bench12\nrelease: "7.2"\narch: x86\nmirror: ${mirror}\nbase: core.gz\nextensions: [gdk-pixbuf2]\nimage:\n  setup: none\n`);
    const archive = path.join(work, 'dbco.tar');
    const buildCache = path.join(work, 'cache-build');
    await timed(process.execPath, [DBCO, 'image', recipe, '--docker', '--cache', buildCache, '-o', archive]);
    const size = statSync(archive).size;

    const dbcoCold: number[] = [];
    const dbcoAgain: number[] = [];
    // dbco's own figure for the push alone (its 'pushed in' line): the process start-up is left out.
    const ownCold: number[] = [];
    const ownAgain: number[] = [];
    const own = (stderr: string): number => Number(/pushed in ([\d.]+) s/.exec(stderr)?.[1] ?? NaN) * 1000;
    const load = os.loadavg()[0]!;
    const skopeoCold: number[] = [];
    const skopeoAgain: number[] = [];
    // CPU seconds (user + sys) alongside: on a shared machine they move far less than wall times.
    const cpu = { dbcoCold: [] as number[], dbcoAgain: [] as number[], skopeoCold: [] as number[], skopeoAgain: [] as number[] };
    const fromBuildAgain: number[] = [];
    let layers = 0;
    for (let i = 0; i < RUNS; i++) {
      // Each contender gets a registry of its own with empty storage: a registry that already holds a blob (in any
      // repository) commits an upload of it without moving it, which would favour whoever goes second.
      const dbcoTurn = async (): Promise<void> => {
        const reg = await startRegistry(path.join(work, `registry-dbco-${i}`));
        registries.push(reg.child);
        const cache = path.join(work, `cache-push-${i}`);
        const ref = `${reg.host}/bench/dbco:1`;
        const cold = await timed(process.execPath, [DBCO, 'push', archive, ref, '--cache', cache, '--json']);
        dbcoCold.push(cold.ms);
        cpu.dbcoCold.push(cold.cpuS);
        ownCold.push(own(cold.stderr));
        const pushed = JSON.parse(cold.stdout) as { pushed: { blobs: { uploaded: number } }[] };
        layers = pushed.pushed[0]!.blobs.uploaded - 1;
        const again = await timed(process.execPath, [DBCO, 'push', archive, ref, '--cache', cache]);
        dbcoAgain.push(again.ms);
        cpu.dbcoAgain.push(again.cpuS);
        ownAgain.push(own(again.stderr));
        fromBuildAgain.push((await timed(process.execPath, [DBCO, 'image', recipe, '--push', ref, '--cache', buildCache])).ms);
        reg.child.kill('SIGTERM');
      };
      const skopeoTurn = async (): Promise<void> => {
        const reg = await startRegistry(path.join(work, `registry-skopeo-${i}`));
        registries.push(reg.child);
        const sref = `docker://${reg.host}/bench/skopeo:1`;
        const sCold = await timed('skopeo', ['copy', '-q', '--dest-tls-verify=false', `oci-archive:${archive}`, sref]);
        skopeoCold.push(sCold.ms);
        cpu.skopeoCold.push(sCold.cpuS);
        const sAgain = await timed('skopeo', ['copy', '-q', '--dest-tls-verify=false', `oci-archive:${archive}`, sref]);
        skopeoAgain.push(sAgain.ms);
        cpu.skopeoAgain.push(sAgain.cpuS);
        reg.child.kill('SIGTERM');
      };
      // Turns, the order swapped every round.
      for (const turn of i % 2 ? [skopeoTurn, dbcoTurn] : [dbcoTurn, skopeoTurn]) await turn();
    }
    const startup: number[] = [];
    const startupCpu: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const v = await timed(process.execPath, [DBCO, '--version']);
      startup.push(v.ms);
      startupCpu.push(v.cpuS);
    }
    const cpuOf = (xs: number[]): string => `${median(xs).toFixed(2)} CPU-s`;
    const loadEnd = os.loadavg()[0]!;
    const rows = [
      '| run | dbco | skopeo copy oci-archive: | dbco / skopeo |',
      '|---|---|---|---|',
      `| cold push (empty registry) | ${sec(median(dbcoCold))} (${dbcoCold.map(sec).join(', ')}); ${cpuOf(cpu.dbcoCold)} | ${sec(median(skopeoCold))} (${skopeoCold.map(sec).join(', ')}); ${cpuOf(cpu.skopeoCold)} | ${(median(dbcoCold) / median(skopeoCold)).toFixed(2)} |`,
      `| again (nothing to upload) | ${sec(median(dbcoAgain))} (${dbcoAgain.map(sec).join(', ')}); ${cpuOf(cpu.dbcoAgain)} | ${sec(median(skopeoAgain))} (${skopeoAgain.map(sec).join(', ')}); ${cpuOf(cpu.skopeoAgain)} | ${(median(dbcoAgain) / median(skopeoAgain)).toFixed(2)} |`,
      `| cold push, the push alone (dbco's own timer, start-up left out) | ${sec(median(ownCold))} (${ownCold.map(sec).join(', ')}) | | |`,
      `| again, the push alone | ${sec(median(ownAgain))} (${ownAgain.map(sec).join(', ')}) | | |`,
      `| node start-up alone: \`dbco --version\` | ${sec(median(startup))}; ${cpuOf(startupCpu)} | | |`,
      `| again from the build: \`dbco image --push\` with a warm cache (build + push) | ${sec(median(fromBuildAgain))} (${fromBuildAgain.map(sec).join(', ')}) | | |`,
    ];
    return {
      title: 'Push to a registry',
      markdown: `${rows.join('\n')}\n\nThe 12-extension x86 image of the docker section (gdk-pixbuf2 and its dependencies: ${layers} layers, ` +
        `archive ${(size / 2 ** 20).toFixed(0)} MiB, uncompressed layers) pushed to Debian's docker-registry 2.8 on 127.0.0.1 (plain http, ` +
        `no auth), ${RUNS} rounds of dbco and skopeo in turns (order swapped each round); median, every run in brackets; whole processes, start-up included. ` +
        '"Cold": a registry of its own with empty storage for each contender and round, and a fresh dbco cache (no mount record). ' +
        '"Again": the same push repeated: HEAD finds every blob, manifests and tags are PUT again. ' +
        `Goals (issue 10): cold push no slower than skopeo's copy; again under 0.5 s. ` +
        `Load average (1 min) when the section started: ${load.toFixed(1)}, when it ended: ${loadEnd.toFixed(1)}, on ${os.cpus().length} cores; ` +
        'CPU-s is user + system time of the whole process (/usr/bin/time), which a loaded machine changes far less than wall time.',
    };
  } finally {
    for (const r of registries) r.kill('SIGTERM');
    rmSync(work, { recursive: true, force: true });
  }
}

