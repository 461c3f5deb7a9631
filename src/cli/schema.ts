import type { Command } from 'commander';
import { writeFileAtomic } from '../cache/atomic.js';
import path from 'node:path';

/** `dbco schema [--write [FILE]]`: the recipe JSON Schema, printed or written (default recipes/schema.json). */
export function registerSchema(program: Command): void {
  program
    .command('schema')
    .description('print the recipe JSON Schema, or write it to recipes/schema.json')
    .option('--write [file]', 'write the schema file (default recipes/schema.json)')
    .action(async (opts: { write?: string | boolean }) => {
      const { recipeJsonSchema } = await import('../recipe/json-schema.js'); // zod: only when asked
      const text = recipeJsonSchema();
      if (!opts.write) {
        process.stdout.write(text);
        return;
      }
      const file = typeof opts.write === 'string' ? opts.write : path.join('recipes', 'schema.json');
      await writeFileAtomic(path.dirname(path.resolve(file)), file, text);
      process.stderr.write(`wrote ${file}\n`);
    });
}
