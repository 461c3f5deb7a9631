import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { defaultCacheDir } from '../cache/index.js';
import type { Logger } from '../io/logger.js';
import type { OciLayout } from '../outputs/oci/layout.js';
import type { PushResult } from '../outputs/registry/push.js';
import { cacheOption, quietOption } from './flags.js';
import { stderrLogger } from './log.js';

export interface PushCommandOptions {
  push?: string[];
  insecureRegistry?: string[];
  cache?: string;
  json?: boolean;
  quiet?: boolean;
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/** --insecure-registry, shared by `image --push`, `push` and `login`. */
export function insecureOption(cmd: Command): Command {
  return cmd.option('--insecure-registry <host[:port]>', 'allow https without verification, then plain http, for this registry (repeatable)', collect);
}

/** `dbco image --push`: the repeatable reference option. */
export function pushOption(cmd: Command): Command {
  return insecureOption(cmd.option('--push <ref>', 'push the image to this registry reference, e.g. registry.example:5000/team/demo:1 (repeatable)', collect));
}

/** Pushes a layout to every reference; one line per reference on stderr, `REF@DIGEST` lines on stdout unless --json. */
export async function pushRefs(layout: OciLayout, refs: string[], opts: PushCommandOptions, log: Logger, connected?: Connected): Promise<PushResult[]> {
  const { pushLayout } = await import('../outputs/registry/push.js');
  const started = Date.now();
  const results = await pushLayout(layout, refs, { ...pushOptions(opts, log), cache: opts.cache ?? defaultCacheDir() }, connected);
  log.info(`pushed in ${((Date.now() - started) / 1000).toFixed(2)} s`);
  return results;
}

type Connected = Awaited<ReturnType<typeof import('../outputs/registry/push.js').connectForPush>>;

const pushOptions = (opts: PushCommandOptions, log: Logger) => ({
  insecureRegistries: opts.insecureRegistry, log,
  onRetry: (what: string, attempt: number) => log.warn(`retrying ${what} (try ${attempt + 1})`),
});

/** Registries reached and access checked before the build, so a bad password costs a second, not a build. */
export async function connectRegistries(refs: string[], opts: PushCommandOptions, log: Logger): Promise<Connected> {
  const { connectForPush } = await import('../outputs/registry/push.js');
  return connectForPush(refs, pushOptions(opts, log));
}

export const pushedLines = (results: PushResult[]): string =>
  results.flatMap((r) => r.refs.map((ref) => `${ref.replace(/@sha256:[0-9a-f]{64}$/, '')}@${r.digest}\n`)).join('');

async function readPassword(stdin: boolean, username: string, registry: string): Promise<string> {
  const chunks: Buffer[] = [];
  if (stdin) {
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  }
  if (!process.stdin.isTTY) throw new UsageError(`login ${registry}: no terminal to ask the password on; use --password-stdin`);
  const { createInterface } = await import('node:readline');
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  // Echo nothing while the password is typed, as docker login does.
  const out = rl as unknown as { _writeToOutput: (s: string) => void };
  const question = `Password for ${username}@${registry}: `;
  process.stderr.write(question);
  out._writeToOutput = () => {};
  try {
    return await new Promise<string>((resolve) => rl.question('', resolve));
  } finally {
    rl.close();
    process.stderr.write('\n');
  }
}

async function readUsername(registry: string): Promise<string> {
  if (!process.stdin.isTTY) throw new UsageError(`login ${registry}: give -u USER (no terminal to ask on)`);
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return (await rl.question(`Username for ${registry}: `)).trim();
  } finally {
    rl.close();
  }
}

export function registerPush(program: Command): void {
  const push = program
    .command('push')
    .description('push an image archive or OCI layout folder written with `dbco image --output` to a registry')
    .argument('<archive>', 'archive (or OCI layout folder) written with dbco image --docker --output')
    .argument('<ref...>', 'registry references, e.g. registry.example:5000/team/demo:1')
    .option('--json', 'print the result as JSON: one object per repository with the digest and blob counts');
  quietOption(cacheOption(insecureOption(push)))
    .action(async (archive: string, refs: string[], opts: PushCommandOptions) => {
      const log = stderrLogger(opts.quiet);
      const { openLayout } = await import('../outputs/oci/layout.js');
      const layout = await openLayout(archive);
      try {
        const results = await pushRefs(layout, refs, opts, log);
        process.stdout.write(opts.json ? `${JSON.stringify({ pushed: results }, null, 2)}\n` : pushedLines(results));
      } finally {
        await layout.close();
      }
    });

  const login = program
    .command('login')
    .description('check credentials against a registry and store them in the docker config (as docker login does)')
    .argument('<registry>', 'registry host[:port], e.g. registry.example:5000 (docker.io for Docker Hub)')
    .option('-u, --username <user>', 'user name (asked on the terminal when missing)')
    .option('--password-stdin', 'read the password from standard input');
  quietOption(insecureOption(login))
    .action(async (registry: string, opts: { username?: string; passwordStdin?: boolean; insecureRegistry?: string[]; quiet?: boolean }) => {
      const log = stderrLogger(opts.quiet);
      const host = registry.replace(/^https?:\/\//, '').replace(/\/+$/, '');
      if (/[/@]/.test(host)) throw new UsageError(`login ${registry}: give the registry host[:port] only`);
      const username = opts.username ?? (await readUsername(host));
      const password = await readPassword(Boolean(opts.passwordStdin), username, host);
      if (!username || !password) throw new UsageError(`login ${host}: user name and password must not be empty`);
      const { login: doLogin } = await import('../outputs/registry/login.js');
      const where = await doLogin(host, { username, password }, { insecure: opts.insecureRegistry?.includes(host) });
      log.info(`credentials for ${host} stored in ${where}`);
      process.stdout.write('Login Succeeded\n');
    });
}
