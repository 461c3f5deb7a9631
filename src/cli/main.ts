import { Command, CommanderError } from 'commander';
import { DbcoError } from '../errors.js';

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
  schema: async () => (await import('./schema.js')).registerSchema,
};

/** Entry point for bin/dbco.js. Returns the exit code; a DbcoError becomes one clear line on stderr. */
export async function main(argv: string[]): Promise<number> {
  const program = new Command('dbco')
    .description('Declarative Tiny Core Linux rootfs builder: recipe in, Docker image or bootable disk out')
    .exitOverride()
    .showHelpAfterError();
  const only = argv[0] !== undefined ? COMMANDS[argv[0]] : undefined;
  const loaders = only ? [only] : Object.values(COMMANDS);
  const registered = new Set<Register>();
  for (const load of loaders) {
    const register = await load();
    if (registered.has(register)) continue;
    registered.add(register);
    register(program);
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    if (err instanceof DbcoError) {
      console.error(`dbco: ${err.message}`);
      return 1;
    }
    throw err;
  }
}
