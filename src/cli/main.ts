import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { DbcoError, RecipeError } from '../errors.js';
import { dbcoVersion } from '../version.js';
import { installInterruptHandlers, interrupted } from '../io/interrupt.js';
import { checkPaths } from './flags.js';

type Register = (program: Command) => void;

/**
 * Each command's module, loaded only when that command runs: a warm `dbco resolve` must not pay for
 * loading the archive readers, Docker client and disk tools it never uses. Help loads them all.
 */
const COMMANDS: Record<string, () => Promise<Register>> = {
  ls: async () => (await import('./ls.js')).registerLs,
  resolve: async () => (await import('./sources.js')).registerSources,
  fetch: async () => (await import('./sources.js')).registerSources,
  lock: async () => (await import('./sources.js')).registerSources,
  image: async () => (await import('./image.js')).registerImage,
  rootfs: async () => (await import('./image.js')).registerImage,
  boot: async () => (await import('./boot.js')).registerBoot,
  test: async () => (await import('./test.js')).registerTest,
  schema: async () => (await import('./schema.js')).registerSchema,
  cache: async () => (await import('./cache.js')).registerCache,
  push: async () => (await import('./push.js')).registerPush,
  login: async () => (await import('./push.js')).registerPush,
};

/** Exit codes, as the README documents them. */
export const EXIT = { ok: 0, failed: 1, usage: 2, internal: 70 } as const;

/** Entry point for bin/dbco.js. Returns the exit code; a DbcoError becomes one clear line on stderr. */
export async function main(argv: string[]): Promise<number> {
  // SIGINT/SIGTERM: registered cleanups (temp files, engine objects, VMs) run, then exit 130/143.
  installInterruptHandlers();
  // The version alone needs no command module (help and a bare `dbco` load them all).
  if (argv.length === 1 && (argv[0] === '-V' || argv[0] === '--version')) {
    process.stdout.write(`${dbcoVersion()}\n`);
    return EXIT.ok;
  }
  const program = new Command('dbco')
    .description('Declarative Tiny Core Linux rootfs builder: recipe in, Docker image or bootable disk out')
    .version(dbcoVersion(), '-V, --version', 'print the dbco version')
    .exitOverride()
    // A usage mistake is one line plus where to read more, not the whole help again.
    .configureOutput({ outputError: (str, write) => write(str.replace(/^error: /, 'dbco: ')) });
  const only = argv[0] !== undefined ? COMMANDS[argv[0]] : undefined;
  const loaders = only ? [only] : Object.values(COMMANDS);
  const registered = new Set<Register>();
  for (const load of loaders) {
    const register = await load();
    if (registered.has(register)) continue;
    registered.add(register);
    register(program);
  }
  program.showHelpAfterError('see dbco --help');
  for (const cmd of program.commands) {
    cmd.showHelpAfterError(`see dbco ${cmd.name()} --help`);
    cmd.configureOutput({ outputError: (str, write) => write(str.replace(/^error: /, 'dbco: ')) });
  }
  program.hook('preAction', (_self, action) => checkPaths(action.opts()));
  if (argv.length === 0) {
    // Bare `dbco` asks what dbco does: the help, on stdout, and success.
    process.stdout.write(program.helpInformation());
    return EXIT.ok;
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (err) {
    // Work torn down by an interrupt fails on its way out: the handler reports and sets the exit code.
    if (interrupted()) return new Promise<number>(() => {});
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    if (err instanceof RecipeError && !/:\d+:\d+$/.test(err.where)) {
      // Found after parsing (by a later stage that knows only the file): point at the field too.
      console.error(`dbco: ${await located(err)}`);
      return EXIT.failed;
    }
    if (err instanceof DbcoError) {
      console.error(`dbco: ${err.message}`);
      if (err.code === 'USAGE') console.error(`see dbco ${argv[0] && COMMANDS[argv[0]] ? `${argv[0]} ` : ''}--help`);
      return err.code === 'USAGE' ? EXIT.usage : EXIT.failed;
    }
    throw err;
  }
}

async function located(err: RecipeError): Promise<string> {
  try {
    const text = readFileSync(err.where, 'utf8');
    const { fieldPosition } = await import('../recipe/parse.js');
    return `${fieldPosition(text, err.where, err.field)}: ${err.field}: ${err.detail}`;
  } catch {
    return err.message;
  }
}
