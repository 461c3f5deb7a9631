import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Version } from '@cyclonedx/cyclonedx-library/Spec';
import { JsonStrictValidator } from '@cyclonedx/cyclonedx-library/Validation';
import { runDbco, tempDir } from '../helpers/env.js';
import { multiArchMirror, writeMultiRecipe } from '../multiarch/fixtures.js';
import { hashOf, sha256File, type CdxBom } from './fixture.js';

/** A multi-arch build: one SBOM per platform, each the artifact of its own platform's manifest. */
describe('dbco image --sbom of a multi-arch recipe', () => {
  const tmp = tempDir('dbco-sbom-multi-');
  let recipe: string;
  let mirror: string;

  beforeAll(() => {
    mirror = multiArchMirror(path.join(tmp.dir, 'mirror'));
    recipe = writeMultiRecipe(tmp.dir, 'sbommulti', mirror, 'dbco-sbommulti-test:1');
  });
  afterAll(() => tmp.cleanup());

  test('--output: FILE.x86.json and FILE.x86_64.json, and index.json lists each beside the image index with its platform manifest as subject', async () => {
    const out = path.join(tmp.dir, 'multi.tar');
    const file = path.join(tmp.dir, 'multi.cdx.json');
    const r = await runDbco(['image', recipe, '--docker', '--output', out, '--sbom', file, '--json'], { env: { DBCO_CACHE: path.join(tmp.dir, 'cache') } });
    expect(r.code, r.stderr).toBe(0);
    const dir = path.join(tmp.dir, 'layout');
    mkdirSync(dir);
    execFileSync('tar', ['-xf', out, '-C', dir]);
    const blob = (d: string): Buffer => readFileSync(path.join(dir, 'blobs/sha256', d.slice(7)));
    const top = JSON.parse(readFileSync(path.join(dir, 'index.json'), 'utf8')) as { manifests: { digest: string; artifactType?: string }[] };
    const [imageIndex, ...artifacts] = top.manifests;
    const platforms = (JSON.parse(blob(imageIndex!.digest).toString()) as { manifests: { digest: string; platform: { architecture: string } }[] }).manifests;
    expect(platforms.map((p) => p.platform.architecture)).toEqual(['386', 'amd64']);
    expect(artifacts).toHaveLength(2);
    for (const [i, arch] of (['x86', 'x86_64'] as const).entries()) {
      const sbom = readFileSync(path.join(tmp.dir, `multi.cdx.${arch}.json`));
      expect(await new JsonStrictValidator(Version.v1dot6).validate(sbom.toString())).toBeNull();
      const bom = JSON.parse(sbom.toString()) as CdxBom;
      const zstd = bom.components.find((c) => c.name === 'libzstd')!;
      expect(zstd.purl).toMatch(new RegExp(`\\?arch=${arch}&release=6\\.4\\.1$`));
      expect(hashOf(zstd, 'SHA-256')).toBe(sha256File(path.join(mirror, `6.x/${arch}/tcz/libzstd.tcz`)));
      const art = JSON.parse(blob(artifacts[i]!.digest).toString()) as { subject: { digest: string }; layers: { digest: string }[] };
      expect(art.subject.digest).toBe(platforms[i]!.digest);
      expect(blob(art.layers[0]!.digest).equals(sbom)).toBe(true);
    }
    // x86's libzstd comes from 16.x with its .info; x86_64's from 14.x without one.
    const x86 = JSON.parse(readFileSync(path.join(tmp.dir, 'multi.cdx.x86.json'), 'utf8')) as CdxBom;
    const x64 = JSON.parse(readFileSync(path.join(tmp.dir, 'multi.cdx.x86_64.json'), 'utf8')) as CdxBom;
    expect(x86.components.find((c) => c.name === 'libzstd')!.version).toBeDefined();
    expect(x64.components.find((c) => c.name === 'libzstd')!.version).toBeUndefined();
  }, 120_000);
});
