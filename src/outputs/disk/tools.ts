import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { ToolError } from '../../errors.js';
import { onInterrupt } from '../../io/interrupt.js';
import type { Logger } from '../../io/logger.js';

/** Kills a child (SIGKILL unless told) and resolves once it has exited. */
export function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill(signal);
  });
}

/** Stops `child` on SIGINT/SIGTERM (see io/interrupt.ts) until it exits by itself. */
export function stopOnInterrupt(child: ChildProcess, label: string, signal: NodeJS.Signals = 'SIGKILL'): void {
  const done = onInterrupt(() => stopChild(child, signal), label);
  child.once('exit', done);
}

const HINTS: Record<string, string> = {
  'mke2fs': 'apt-get install e2fsprogs',
  'e2fsck': 'apt-get install e2fsprogs',
  'debugfs': 'apt-get install e2fsprogs',
  'grub-mkimage': 'apt-get install grub-common grub-pc-bin',
  'qemu-img': 'apt-get install qemu-utils',
  'qemu-system-x86_64': 'apt-get install qemu-system-x86',
  'qemu-system-i386': 'apt-get install qemu-system-x86',
  packer: 'apt-get install packer, or download it from https://developer.hashicorp.com/packer/install',
};

/** Absolute path of `tool` on PATH, or a ToolError saying how to install it. */
export function findTool(tool: string, env: NodeJS.ProcessEnv = process.env): string {
  for (const dir of (env.PATH ?? '').split(':')) {
    if (!dir) continue;
    const p = `${dir}/${tool}`;
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch { /* next */ }
  }
  throw new ToolError(tool, `not found on PATH; install it (${HINTS[tool] ?? `apt-get install ${tool}`})`);
}

export interface RunResult { stdout: string; stderr: string; code: number }

/**
 * Runs a tool to completion. Non-zero exit is a ToolError carrying its stderr, unless `allowFail`.
 * `onLine` sees each output line as it comes (Packer's progress goes to dbco's log that way).
 */
export async function runTool(
  tool: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; allowFail?: boolean; onLine?: (line: string) => void; log?: Logger } = {},
): Promise<RunResult> {
  const bin = findTool(tool, opts.env ?? process.env);
  opts.log?.info(`$ ${tool} ${args.join(' ')}`);
  return await new Promise<RunResult>((resolve, reject) => {
    const child = spawn(bin, args, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    // SIGTERM lets Packer stop its own VM and clean up; the rest stop at once either way.
    stopOnInterrupt(child, `${tool} (pid ${child.pid})`, 'SIGTERM');
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let pending = '';
    const feed = (chunk: Buffer): void => {
      if (!opts.onLine) return;
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const l of lines) opts.onLine(l);
    };
    child.stdout.on('data', (c: Buffer) => { out.push(c); feed(c); });
    child.stderr.on('data', (c: Buffer) => { err.push(c); feed(c); });
    child.on('error', (e) => reject(new ToolError(tool, `could not start: ${e.message}`, { cause: e })));
    child.on('close', (code) => {
      if (pending && opts.onLine) opts.onLine(pending);
      const res = { stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString(), code: code ?? 1 };
      if (res.code !== 0 && !opts.allowFail) {
        reject(new ToolError(tool, `exited with ${res.code}: ${(res.stderr || res.stdout).trim().split('\n').slice(-5).join(' | ')}`));
      } else resolve(res);
    });
  });
}
