import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface TimedProcess {
  ms: number;
  maxRssMb: number;
  /** user + system CPU seconds of the process and the children it waited for, as /usr/bin/time counts them. */
  cpuS: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command under /usr/bin/time (for its peak RSS) and times it from spawn to exit. Asynchronous, so a
 * server the bench runs in this process (a mirror, a proxy) keeps answering. A non-zero exit rejects.
 */
export function timedProcess(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<TimedProcess> {
  const rssFile = path.join(os.tmpdir(), `dbco-bench-rss-${process.pid}-${Math.random().toString(36).slice(2)}`);
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn('/usr/bin/time', ['-f', '%M %U %S', '-o', rssFile, cmd, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const stderr = Buffer.concat(err).toString();
      if (code !== 0) {
        rmSync(rssFile, { force: true });
        reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${stderr.slice(-2000)}`));
        return;
      }
      const [rssKb, user, sys] = readFileSync(rssFile, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
      rmSync(rssFile, { force: true });
      resolve({ ms, maxRssMb: rssKb! / 1024, cpuS: user! + sys!, stdout: Buffer.concat(out).toString(), stderr });
    });
  });
}
