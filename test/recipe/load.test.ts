import { describe, expect, test } from 'vitest';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseRecipe } from '../../src/recipe/parse.js';
import { pickMirror } from '../../src/recipe/load.js';
import { recipeJsonSchema } from '../../src/recipe/json-schema.js';
import { RecipeError } from '../../src/errors.js';
import { REPO_ROOT } from '../helpers/env.js';

const ok = `# yaml-language-server: $schema=./schema.json
name: demo
release: "14.0"
arch: x86_64
base: corepure64.gz
extensions:
  - openssh
  - scsi-KERNEL.tcz
`;

function errorOf(text: string): RecipeError {
  try {
    parseRecipe(text, 'recipes/x.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(RecipeError);
    return err as RecipeError;
  }
  throw new Error('expected a RecipeError');
}

describe('recipe loading', () => {
  test('valid recipe: .tcz appended where missing', () => {
    const r = parseRecipe(ok, 'recipes/x.yaml');
    expect(r.extensions).toEqual(['openssh.tcz', 'scsi-KERNEL.tcz']);
    expect(r.base).toBe('corepure64.gz');
  });

  test('unknown field: file:line:column and the field', () => {
    expect(errorOf(`${ok}colour: blue\n`).message).toBe('recipes/x.yaml:9:1: colour: unknown field "colour"');
    expect(errorOf(ok.replace('arch: x86_64', 'arch: x86_64\nimage:\n  tagg: x')).message).toBe('recipes/x.yaml:6:3: image.tagg: unknown field "tagg"');
  });

  test('wrong type', () => {
    expect(errorOf(ok.replace('"14.0"', '14.0')).message).toBe('recipes/x.yaml:3:10: release: expected string, got number (put it in quotes)');
    expect(errorOf(`${ok}image:\n  max_layers: "5"\n`).message).toBe('recipes/x.yaml:10:15: image.max_layers: expected number, got string');
  });

  test('bad enum value', () => {
    expect(errorOf(ok.replace('x86_64', 'arm64')).message).toBe('recipes/x.yaml:4:7: arch: expected one of "x86", "x86_64", got "arm64"');
  });

  test('bad extension name', () => {
    const e = errorOf(ok.replace('  - openssh\n', '  - openssh\n  - a b\n'));
    expect(e.message).toMatch(/^recipes\/x\.yaml:8:5: extensions\[1\]: "a b" is not an extension name/);
    expect(e.field).toBe('extensions[1]');
  });

  test('all errors at once, in file order; missing field; yaml syntax', () => {
    const e = errorOf('name: Demo\nrelease: "7"\narch: sparc\nextra: 1\n');
    const lines = e.message.split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(/^recipes\/x\.yaml:1:7: name: /);
    expect(lines[1]).toMatch(/^recipes\/x\.yaml:2:10: release: /);
    expect(lines[2]).toMatch(/^recipes\/x\.yaml:3:7: arch: /);
    expect(lines).toContain('recipes/x.yaml:4:1: extra: unknown field "extra"');
    expect(errorOf('release: "7.2"\narch: x86\n').message).toBe('recipes/x.yaml:1:1: name: required field missing (expected string)');
    // base may be left out: TC's own name for the arch (core.gz, corepure64.gz) is taken.
    expect(parseRecipe('name: demo\nrelease: "7.2"\narch: x86\n', 'x').base).toBeUndefined();
    expect(errorOf('name: [demo\nrelease: 1\n').message).toMatch(/^recipes\/x\.yaml:2:\d+: \(yaml\): /);
  });

  test('base variants: ISO errors point inside the object', () => {
    const e = errorOf(ok.replace('base: corepure64.gz', 'base:\n  iso: tc.iso\n  sha256: nope'));
    expect(e.message).toMatch(/^recipes\/x\.yaml:7:11: base\.sha256: "nope" is not 64 lowercase hex digits/);
    expect(parseRecipe(ok.replace('base: corepure64.gz', 'base: {file: ./core.gz}'), 'x').base).toEqual({ file: './core.gz' });
  });

  test('mirror precedence: --mirror > DBCO_MIRROR > recipe > default', () => {
    const r = { ...parseRecipe(ok, 'x'), mirror: 'http://recipe' };
    expect(pickMirror('http://flag', r, 'http://def', { DBCO_MIRROR: 'http://env' })).toBe('http://flag');
    expect(pickMirror(undefined, r, 'http://def', { DBCO_MIRROR: 'http://env' })).toBe('http://env');
    expect(pickMirror(undefined, r, 'http://def', {})).toBe('http://recipe');
    expect(pickMirror(undefined, parseRecipe(ok, 'x'), 'http://def', {})).toBe('http://def');
  });

  test('recipes/schema.json is the one generated from the zod schema (dbco schema --write)', () => {
    const committed = readFileSync(path.join(REPO_ROOT, 'recipes/schema.json'), 'utf8');
    expect(committed).toBe(recipeJsonSchema());
    const schema = JSON.parse(committed) as { properties: Record<string, unknown>; required: string[]; additionalProperties: boolean };
    expect(schema.required).toEqual(expect.arrayContaining(['name', 'release', 'arch']));
    expect(schema.additionalProperties).toBe(false);
  });
});

describe('loadRecipe', () => {
  test('digest of the bytes; a validated recipe is remembered in the cache and re-read', async () => {
    const { loadRecipe } = await import('../../src/recipe/load.js');
    const { tempDir } = await import('../helpers/env.js');
    const { writeFileSync, readdirSync, readFileSync } = await import('node:fs');
    const { createHash } = await import('node:crypto');
    const t = tempDir();
    try {
      const file = path.join(t.dir, 'r.yaml');
      writeFileSync(file, ok);
      const a = await loadRecipe(file, { cacheRoot: path.join(t.dir, 'cache') });
      expect(a.digest).toBe(createHash('sha256').update(ok).digest('hex'));
      expect(readdirSync(path.join(t.dir, 'cache/recipes'))).toHaveLength(1);
      const b = await loadRecipe(file, { cacheRoot: path.join(t.dir, 'cache') });
      expect(b.recipe).toEqual(a.recipe);
      // the second load came from the memo, not from the YAML: a marked memo is what it returns
      const [memo] = readdirSync(path.join(t.dir, 'cache/recipes'));
      const memoFile = path.join(t.dir, 'cache/recipes', memo!);
      writeFileSync(memoFile, JSON.stringify({ ...JSON.parse(readFileSync(memoFile, 'utf8')), name: 'from-memo' }));
      expect((await loadRecipe(file, { cacheRoot: path.join(t.dir, 'cache') })).recipe.name).toBe('from-memo');
      expect(b.recipe.extensions).toEqual(['openssh.tcz', 'scsi-KERNEL.tcz']);
      // an edited recipe is validated again (different digest, different key)
      writeFileSync(file, `${ok}bogus: 1\n`);
      await expect(loadRecipe(file, { cacheRoot: path.join(t.dir, 'cache') })).rejects.toThrow(/unknown field "bogus"/);
    } finally {
      t.cleanup();
    }
  });

  test('the memo key: a changed schema or parser module gives every recipe a new key; unbundled, it hashes the modules beside load', async () => {
    const { loadRecipe, memoName, validatorDigest, validatorDigestIn } = await import('../../src/recipe/load.js');
    const { tempDir } = await import('../helpers/env.js');
    const { writeFileSync, readdirSync } = await import('node:fs');
    const schema = readFileSync(path.join(REPO_ROOT, 'src/recipe/schema.ts'));
    const parse = readFileSync(path.join(REPO_ROOT, 'src/recipe/parse.ts'));
    const now = validatorDigest([schema, parse]);
    expect(await validatorDigestIn(path.join(REPO_ROOT, 'src/recipe'), '.ts')).toBe(now);
    const edited = validatorDigest([Buffer.concat([schema, Buffer.from('\n')]), parse]);
    expect(edited).not.toBe(now);
    expect(validatorDigest([schema, Buffer.concat([parse, Buffer.from(' ')])])).not.toBe(now);
    // the boundary between the two modules counts: bytes moved from one to the other are another key
    expect(validatorDigest([Buffer.concat([schema, parse.subarray(0, 1)]), parse.subarray(1)])).not.toBe(now);
    const digest = 'a'.repeat(64);
    expect(memoName(digest, edited)).not.toBe(memoName(digest, now));
    expect(memoName('b'.repeat(64), now)).not.toBe(memoName(digest, now));
    const t = tempDir();
    try {
      const file = path.join(t.dir, 'r.yaml');
      writeFileSync(file, ok);
      const { digest: d } = await loadRecipe(file, { cacheRoot: path.join(t.dir, 'cache') });
      expect(readdirSync(path.join(t.dir, 'cache/recipes'))).toEqual([memoName(d, now)]);
    } finally {
      t.cleanup();
    }
  });
});
