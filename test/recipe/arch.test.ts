import { describe, expect, test } from 'vitest';
import { parseRecipe } from '../../src/recipe/parse.js';
import { archOfPlatform, forArch, pickArch } from '../../src/recipe/arch.js';
import { RecipeError } from '../../src/errors.js';

const head = 'name: m\nrelease: "17.0"\n';

describe('multi-arch recipes narrowed to one arch', () => {
  test('omitted base and kernel take TC\'s names per arch; maps pick their arch', () => {
    const doc = parseRecipe(`${head}arch: [x86, x86_64]\nkernel: { x86_64: vmlinuz64-custom }\nextensions: [curl]\n`, 'm.yaml');
    expect(forArch(doc, 'x86')).toMatchObject({ arch: 'x86', base: 'core.gz', kernel: 'vmlinuz', extensions: ['curl.tcz'] });
    expect(forArch(doc, 'x86_64')).toMatchObject({ arch: 'x86_64', base: 'corepure64.gz', kernel: 'vmlinuz64-custom' });
    const iso = parseRecipe(`${head}arch: [x86_64, x86]\nbase: { x86: { file: core.gz }, x86_64: rootfs64.gz }\n`, 'm.yaml');
    expect(forArch(iso, 'x86').base).toEqual({ file: 'core.gz' });
    expect(forArch(iso, 'x86_64').base).toBe('rootfs64.gz');
  });

  test('a single-arch recipe comes back as written (no kernel added)', () => {
    const text = `${head}arch: x86\nbase: core.gz\nimage: { setup: none }\n`;
    const doc = parseRecipe(text, 's.yaml');
    expect(forArch(doc, 'x86')).toEqual(doc);
  });

  test('--platform: picked, checked against the recipe, or asked for', () => {
    const doc = parseRecipe(`${head}arch: [x86, x86_64]\n`, 'm.yaml');
    expect(pickArch(doc, 'm.yaml', archOfPlatform('linux/386'))).toBe('x86');
    expect(() => pickArch(doc, 'm.yaml')).toThrow(/m\.yaml: arch lists x86, x86_64: .* --platform linux\/386 or linux\/amd64/);
    const one = parseRecipe(`${head}arch: x86\n`, 'o.yaml');
    expect(() => pickArch(one, 'o.yaml', 'x86_64')).toThrow('o.yaml: --platform linux/amd64: the recipe builds linux/386 only');
    expect(() => archOfPlatform('linux/arm64')).toThrow('--platform linux/arm64: expected linux/386 or linux/amd64');
  });

  test('bad arch lists are recipe errors with line and column', () => {
    expect(() => parseRecipe(`${head}arch: [x86, x86]\n`, 'm.yaml')).toThrow(/m\.yaml:3:7: arch: .*each arch once/);
    expect(() => parseRecipe(`${head}arch: [x86, arm]\n`, 'm.yaml')).toThrow(RecipeError);
    expect(() => parseRecipe(`${head}arch: x86\nbase: { x86: core.gz, arm: x.gz }\n`, 'm.yaml')).toThrow(/base\.arm: unknown field "arm"/);
  });
});
