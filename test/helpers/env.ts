import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { execFileSync, spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** ../shared/tc-mirror beside the checkout (CI lays a copy there). Missing is a failure, never a skip. */
export function sharedMirror(): string {
  const dir = process.env.DBCO_SHARED_MIRROR ?? path.resolve(REPO_ROOT, '../shared/tc-mirror');
  if (!existsSync(dir)) throw new Error(`real TC mirror not found at ${dir}: tests need ../shared/tc-mirror`);
  return dir;
}

/** Every .tcz in the real mirror, sorted: the suites that read real extensions run over all of them. */
export function sharedTczs(): string[] {
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
      const p = path.join(dir, d.name);
      return d.isDirectory() ? walk(p) : d.isFile() && d.name.endsWith('.tcz') ? [p] : [];
    });
  return walk(sharedMirror()).sort();
}

/** Throws (fails the test) when a tool the suite needs is not installed: .ci/run installs them all. */
export function requireTool(name: string): string {
  try {
    return execFileSync('sh', ['-c', `command -v ${name}`]).toString().trim();
  } catch {
    throw new Error(`${name} is not installed: run scripts/install-deps.sh (CI does)`);
  }
}

/** A fresh temporary folder; call the returned cleanup in afterAll/afterEach. */
export function tempDir(prefix = 'dbco-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Runs the built CLI (npm test builds first) in a child process. Asynchronous on purpose: a mirror
 * served by serveFolder() lives in the test process, and a synchronous spawn would freeze it.
 * Returns the exit code and output instead of throwing.
 */
export function runDbco(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; input?: string; onStderr?: (text: string) => void } = {}): Promise<{
  code: number; stdout: string; stderr: string;
}> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin/dbco.js'), ...args], {
      cwd: opts.cwd ?? REPO_ROOT,
      env: { ...process.env, ...opts.env },
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (c: Buffer) => out.push(c));
    child.stderr!.on('data', (c: Buffer) => { err.push(c); opts.onStderr?.(Buffer.concat(err).toString()); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }));
  });
}
