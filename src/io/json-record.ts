import { readFile } from 'node:fs/promises';

/**
 * Reads a JSON record the cache wrote earlier. A missing, torn or foreign file is `undefined`, never an
 * error: every caller treats it as "not computed yet" and rebuilds it.
 */
export async function readJsonRecord(p: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(p, 'utf8');
  } catch {
    return undefined;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
