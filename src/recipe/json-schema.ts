import { z } from 'zod';
import { Recipe } from './schema.js';

/** recipes/schema.json, generated from the one zod definition; stable text so the committed file can be compared. */
export function recipeJsonSchema(): string {
  const schema = z.toJSONSchema(Recipe, { target: 'draft-2020-12', io: 'input' }) as Record<string, unknown>;
  const doc = {
    $id: 'https://github.com/dbco/dbco/recipes/schema.json',
    title: 'dbco recipe',
    description: 'A dbco recipe: a Tiny Core Linux release, a base, extensions and files; built into a Docker image or a bootable disk.',
    ...schema,
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}
