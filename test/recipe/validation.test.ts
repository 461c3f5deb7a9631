import { afterAll, describe, expect, test } from 'vitest';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseRecipe } from '../../src/recipe/parse.js';
import { imageReferenceProblem } from '../../src/recipe/image-ref.js';
import { RecipeError } from '../../src/errors.js';
import { runDbco, sharedMirror, tempDir } from '../helpers/env.js';

const head = 'name: t\nrelease: "6.4.1"\narch: x86_64\nbase: rootfs64.gz\n';

function messageOf(text: string): string {
  try {
    parseRecipe(text, 'r.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(RecipeError);
    return (err as RecipeError).message;
  }
  throw new Error('expected a RecipeError');
}

describe('recipe validation: what the 71 bad recipes of issue 12 found', () => {
  test('image.tag follows Docker\'s reference grammar', () => {
    expect(messageOf(`${head}image: {tag: "Bad Tag::"}\n`)).toBe('r.yaml:5:14: image.tag: "Bad Tag::" is not a Docker image reference such as "name:tag" or "registry:5000/team/name:1.0"');
    expect(messageOf(`${head}image: {tag: "a:b:c"}\n`)).toMatch(/image\.tag: "a:b:c" is not a Docker image reference/);
    expect(messageOf(`${head}image: {tag: "UPPER:1"}\n`)).toMatch(/image\.tag/);
    expect(messageOf(`${head}image: {tag: "x:${'t'.repeat(129)}"}\n`)).toMatch(/image\.tag/);
    expect(messageOf(`${head}image: {tag: "${'a'.repeat(256)}:1"}\n`)).toMatch(/image\.tag: .*at most 255/);
    for (const ok of ['demo:latest', 'localhost:5000/team/app-1:1.0', 'a__b.c/d', 'registry.example.com/x/y:v_1.2-rc']) {
      expect(imageReferenceProblem(ok), ok).toBeNull();
      expect(() => parseRecipe(`${head}image: {tag: "${ok}"}\n`, 'r.yaml')).not.toThrow();
    }
    expect(messageOf(head.replace('name: t', 'name: a..b'))).toMatch(/^r\.yaml:1:7: name: "a\.\.b": the default image name/);
  });

  test('owner ids within 0..2^32-2, named with the field', () => {
    expect(messageOf(`${head}files: [{content: "", dest: /x, owner: "4294967296:0"}]\n`))
      .toBe('r.yaml:5:40: files[0].owner: "4294967296:0": uid and gid must each be within 0..4294967294');
    expect(messageOf(`${head}files: [{content: "", dest: /x, owner: "0:99999999999999999999999"}]\n`)).toMatch(/files\[0\]\.owner: "0:9+": uid and gid must each be within/);
    expect(() => parseRecipe(`${head}files: [{content: "", dest: /x, owner: "4294967294:4294967294"}]\n`, 'r.yaml')).not.toThrow();
  });

  test('disk.size bounded (1M..2048G) with a clear error', () => {
    expect(messageOf(`${head}disk: {size: 99999999999999999999G}\n`)).toBe('r.yaml:5:14: disk.size: "99999999999999999999G": a disk size within 1M..2048G (an MBR disk holds at most 2 TiB)');
    expect(messageOf(`${head}disk: {size: 2049G}\n`)).toMatch(/disk\.size: "2049G": a disk size within/);
    expect(messageOf(`${head}disk: {size: 1000K}\n`)).toMatch(/disk\.size: "1000K"/);
    expect(() => parseRecipe(`${head}disk: {size: 2048G}\n`, 'r.yaml')).not.toThrow();
  });

  test('a YAML alias bomb is refused with one line, not a crash', () => {
    const rows = ['a: &a [x,x,x,x,x,x,x,x,x]'];
    for (const [i, c] of [...'bcdefg'].entries()) rows.push(`${c}: &${c} [${Array(9).fill(`*${'abcdefg'[i]}`).join(',')}]`);
    expect(messageOf(`${rows.join('\n')}\n`)).toBe("r.yaml:2:8: (yaml): aliases expand to too many nodes (yaml's maxAliasCount 100): refused as a resource exhaustion attack");
    // a few aliases are fine
    expect(parseRecipe(`${head}bootcodes: &b [nozswap]\npersist: *b\n`, 'r.yaml').persist).toEqual(['nozswap']);
  });

  test('readable messages: no "expected number, got number", no "is not Invalid string"', () => {
    expect(messageOf(`${head}image: {max_layers: 1.5}\n`)).toBe('r.yaml:5:21: image.max_layers: expected a whole number, got 1.5');
    expect(messageOf(`${head}image: {max_layers: .inf}\n`)).toBe('r.yaml:5:21: image.max_layers: expected a finite number, got Infinity');
    expect(messageOf(`${head}image: {max_layers: 1}\n`)).toBe('r.yaml:5:21: image.max_layers: at least 3, got 1');
    expect(messageOf(`${head}kernel: "a b"\n`)).toBe('r.yaml:5:9: kernel: "a b" is not a file in release/distribution_files such as vmlinuz64');
    expect(messageOf(`${head}kernel_version: "a b"\n`)).toMatch(/kernel_version: "a b" is not a kernel version without spaces/);
    expect(messageOf(`${head}disk: {label: "12345678901234567"}\n`)).toBe('r.yaml:5:15: disk.label: at most 16 characters, got "12345678901234567" (17)');
  });

  test('a duplicate key is named', () => {
    expect(messageOf(`${head}arch: x86\n`)).toBe('r.yaml:5:1: (yaml): duplicate key "arch": each field may appear once');
  });
});

describe('after parsing: file:line:column, and files[].src stays in the recipe\'s folder', () => {
  const M = sharedMirror();
  const t = tempDir();
  const dir = path.join(t.dir, 'recipes');
  mkdirSync(dir);
  writeFileSync(path.join(dir, 'motd'), 'hi\n');
  writeFileSync(path.join(t.dir, 'secret'), 'outside\n');
  symlinkSync(path.join(t.dir, 'secret'), path.join(dir, 'link'));
  afterAll(() => t.cleanup());
  const cache = path.join(t.dir, 'cache');
  const build = (name: string, files: string, extra: string[] = []) => {
    const r = path.join(dir, `${name}.yaml`);
    writeFileSync(r, `${head}files:\n${files}`);
    return runDbco(['rootfs', r, '-q', '-o', path.join(t.dir, `${name}.tar`), '--mirror', M, '--cache', cache, ...extra]).then((x) => ({ ...x, r }));
  };

  test('a missing src: the error carries file:line:column of the field', async () => {
    const x = await build('missing', '  - {dest: /etc/motd, src: motd}\n  - {dest: /etc/x, src: nope}\n');
    expect(x.code).toBe(1);
    expect(x.stderr).toBe(`dbco: ${x.r}:7:25: files[1].src: cannot read ${path.join(dir, 'nope')}: ENOENT\n`);
  });

  test('src outside the recipe\'s folder (path, .., symlink) refused unless --allow-outside-src', async () => {
    for (const [name, src] of [['abs', path.join(t.dir, 'secret')], ['up', '../secret'], ['link', 'link']] as const) {
      const x = await build(name, `  - {dest: /etc/motd, src: ${JSON.stringify(src)}}\n`);
      expect(x.code, name).toBe(1);
      expect(x.stderr, name).toMatch(new RegExp(`^dbco: ${x.r.replace(/[.]/g, '\\.')}:6:28: files\\[0\\]\\.src: .* is outside the recipe's folder .*: refused \\(pass --allow-outside-src to allow it\\)\\n$`));
    }
    const ok = await build('inside', '  - {dest: /etc/motd, src: motd}\n');
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    const allowed = await build('allowed', '  - {dest: /etc/motd, src: ../secret}\n', ['--allow-outside-src']);
    expect(allowed.code).toBe(0);
  });

  test('--tag is checked like image.tag', async () => {
    const r = path.join(dir, 'tag.yaml');
    writeFileSync(r, head);
    const x = await runDbco(['image', r, '--docker', '--tag', 'No Good', '-o', path.join(t.dir, 'x.tar'), '--mirror', M, '--cache', cache]);
    expect(x.code).toBe(2);
    expect(x.stderr).toMatch(/^dbco: --tag "No Good" is not a Docker image reference/);
  });
});
