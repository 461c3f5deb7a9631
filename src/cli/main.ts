import { Command, CommanderError } from 'commander';
import { DbcoError } from '../errors.js';
import { registerLs } from './ls.js';
import { registerSources } from './sources.js';
import { registerImage } from './image.js';
import { registerBoot } from './boot.js';
import { registerSchema } from './schema.js';

/** Entry point for bin/dbco.js. Returns the exit code; a DbcoError becomes one clear line on stderr. */
export async function main(argv: string[]): Promise<number> {
  const program = new Command('dbco')
    .description('Declarative Tiny Core Linux rootfs builder: recipe in, Docker image or bootable disk out')
    .exitOverride()
    .showHelpAfterError();
  registerLs(program);
  registerSources(program);
  registerImage(program);
  registerBoot(program);
  registerSchema(program);
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
