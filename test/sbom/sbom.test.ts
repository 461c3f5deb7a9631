import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Version } from '@cyclonedx/cyclonedx-library/Spec';
import { JsonStrictValidator } from '@cyclonedx/cyclonedx-library/Validation';
import { Cache } from '../../src/cache/index.js';
import { REPO_ROOT, requireTool, runDbco, sharedMirror, tempDir } from '../helpers/env.js';
import { depTree, hashOf, infoField, md5File, sbomRecipe, sha256File, type CdxBom } from './fixture.js';

/**
 * SBOMs of real builds from ../shared/tc-mirror: 17.x x86 curl (every extension has a .tcz.info) and
 * 7.x x86 curl (none has), checked against the files themselves, the cache's blobs and the .dep
 * files, and by the CycloneDX library's own JSON Schema validator.
 */
const EPOCH = '1700000000';
const TC17 = () => path.join(sharedMirror(), '17.x/x86/tcz');
const TC7 = () => path.join(sharedMirror(), '7.x/x86/tcz');

async function validate(bytes: Buffer): Promise<void> {
  expect(await new JsonStrictValidator(Version.v1dot6).validate(bytes.toString('utf8'))).toBeNull();
}


/** Every tcz of the .dep tree is a component with the file's hashes, and its dependsOn is its .dep. */
function checkAgainstMirror(bom: CdxBom, tczDir: string, roots: string[]): void {
  const tree = depTree(tczDir, roots);
  const tczs = bom.components.filter((c) => c.type === 'library');
  expect(tczs.map((c) => `${c.name}.tcz`).sort()).toEqual([...tree.keys()].sort());
  const refOf = new Map(tczs.map((c) => [`${c.name}.tcz`, c['bom-ref']]));
  for (const c of tczs) {
    const file = path.join(tczDir, `${c.name}.tcz`);
    expect(hashOf(c, 'SHA-256'), c.name).toBe(sha256File(file));
    expect(hashOf(c, 'MD5'), c.name).toBe(md5File(file));
    const deps = bom.dependencies.find((d) => d.ref === c['bom-ref'])!;
    expect((deps.dependsOn ?? []).slice().sort(), c.name).toEqual(tree.get(`${c.name}.tcz`)!.map((d) => refOf.get(d)!).sort());
  }
  const top = bom.dependencies.find((d) => d.ref === bom.metadata.component['bom-ref'])!;
  const base = bom.components.find((c) => c.type === 'operating-system')!;
  expect(top.dependsOn!.slice().sort()).toEqual([base['bom-ref'], ...roots.map((r) => refOf.get(`${r}.tcz`)!)].sort());
}

describe('dbco image --sbom', () => {
  const tmp = tempDir('dbco-sbom-');
  const env = (cache: string): NodeJS.ProcessEnv => ({ DBCO_CACHE: path.join(tmp.dir, cache), SOURCE_DATE_EPOCH: EPOCH });
  let r17: string;
  let r7: string;
  let sbom17: Buffer;
  let archive17: Buffer;

  beforeAll(() => {
    requireTool('tar');
    r17 = sbomRecipe(path.join(tmp.dir, 'r'), 'sbom17', '17.0', ['curl'], 'dbco-sbom17-test:1');
    r7 = sbomRecipe(path.join(tmp.dir, 'r'), 'sbom7', '7.2', ['curl'], 'dbco-sbom7-test:1', ['kernel: vmlinuz']);
  });
  afterAll(() => tmp.cleanup());

  test('17.x x86 curl: valid CycloneDX 1.6; each tcz with the sha256 of its file, version and license from its .tcz.info, dependencies from its .dep', async () => {
    const out = path.join(tmp.dir, 'a.tar');
    const file = path.join(tmp.dir, 'a.cdx.json');
    const r = await runDbco(['image', r17, '--docker', '--output', out, '--sbom', file, '--json'], { env: env('cache-a') });
    expect(r.stderr).toContain('wrote the SBOM');
    expect(r.code).toBe(0);
    sbom17 = readFileSync(file);
    archive17 = readFileSync(out);
    await validate(sbom17);
    const bom = JSON.parse(sbom17.toString()) as CdxBom;
    expect(bom.specVersion).toBe('1.6');
    expect(bom.metadata.timestamp).toBe('2023-11-14T22:13:20.000Z');
    const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(bom.metadata.tools.components.map((t) => [t.name, t.version])).toEqual([['dbco', pkg.version]]);
    expect(bom.metadata.component).toMatchObject({ type: 'container', name: 'sbom17' });
    checkAgainstMirror(bom, TC17(), ['curl']);
    // The official sha256 list in reference/ lacks these five names: the cache's blob (named by its
    // sha256, hashed again here) is the second witness besides the mirror file.
    const cache = new Cache(path.join(tmp.dir, 'cache-a'));
    for (const c of bom.components.filter((x) => x.type === 'library')) {
      const info = path.join(TC17(), `${c.name}.tcz.info`);
      expect(sha256File(cache.blobPath(hashOf(c, 'SHA-256')!)), `${c.name}'s cache blob`).toBe(hashOf(c, 'SHA-256'));
      expect(c.version).toBe(infoField(info, 'Version'));
      expect(c.licenses).toEqual([{ license: { name: infoField(info, 'Copying-policy') } }]);
      expect(c.purl).toBe(`pkg:generic/tinycore/${c.name}@${c.version}?arch=x86&release=17.0`);
    }
    const base = bom.components.find((c) => c.type === 'operating-system')!;
    expect(hashOf(base, 'SHA-256')).toBe(sha256File(path.join(tmp.dir, 'r/core.gz')));
    const json = JSON.parse(r.stdout) as { sbom: { platform: string; file: string; artifactDigest: string }[] };
    expect(json.sbom).toEqual([{ platform: 'linux/386', file, artifactDigest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/) }]);
  });

  test('the same inputs from another empty cache: the same SBOM bytes and the same archive bytes', async () => {
    const out = path.join(tmp.dir, 'b.tar');
    const file = path.join(tmp.dir, 'b.cdx.json');
    const r = await runDbco(['image', r17, '--docker', '--output', out, '--sbom', file, '-q'], { env: env('cache-b') });
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(file).equals(sbom17)).toBe(true);
    expect(readFileSync(out).equals(archive17)).toBe(true);
    // The serial number is the content's: another epoch, another document, another serial.
    const other = path.join(tmp.dir, 'c.cdx.json');
    const r2 = await runDbco(['image', r17, '--docker', '--output', path.join(tmp.dir, 'c.tar'), '--sbom', other, '-q'], { env: { ...env('cache-b'), SOURCE_DATE_EPOCH: '1700000001' } });
    expect(r2.code, r2.stderr).toBe(0);
    const [a, c] = [sbom17, readFileSync(other)].map((b) => (JSON.parse(b.toString()) as CdxBom).serialNumber);
    expect(a).toMatch(/^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(c).not.toBe(a);
  });

  test('the OCI layout holds the SBOM as an artifact whose subject is the image manifest; skopeo reads the image by its tag', async () => {
    const dir = path.join(tmp.dir, 'layout');
    mkdirSync(dir);
    execFileSync('tar', ['-xf', path.join(tmp.dir, 'a.tar'), '-C', dir]);
    const blob = (digest: string): Buffer => readFileSync(path.join(dir, 'blobs/sha256', digest.slice(7)));
    const index = JSON.parse(readFileSync(path.join(dir, 'index.json'), 'utf8')) as { manifests: { digest: string; mediaType: string; size: number; artifactType?: string; annotations?: Record<string, string> }[] };
    const [image, artifact, ...rest] = index.manifests;
    expect(rest).toEqual([]);
    expect(image!.annotations?.['org.opencontainers.image.ref.name']).toBe('1');
    expect(artifact).toMatchObject({ mediaType: 'application/vnd.oci.image.manifest.v1+json', artifactType: 'application/vnd.cyclonedx+json' });
    const m = JSON.parse(blob(artifact!.digest).toString()) as { artifactType: string; config: { mediaType: string }; layers: { mediaType: string; digest: string }[]; subject: { digest: string; size: number } };
    expect(m.artifactType).toBe('application/vnd.cyclonedx+json');
    expect(m.config.mediaType).toBe('application/vnd.oci.empty.v1+json');
    expect(m.subject).toMatchObject({ digest: image!.digest, size: image!.size });
    expect(m.layers).toHaveLength(1);
    expect(blob(m.layers[0]!.digest).equals(sbom17)).toBe(true);
    requireTool('skopeo');
    const inspected = JSON.parse(execFileSync('skopeo', ['inspect', `oci-archive:${path.join(tmp.dir, 'a.tar')}:1`]).toString()) as { Digest: string };
    expect(inspected.Digest).toBe(image!.digest);
  });

  test('--sbom changes nothing in the image: same manifest digest with and without it', async () => {
    const r = await runDbco(['image', r17, '--docker', '--output', path.join(tmp.dir, 'plain.tar'), '--json', '-q'], { env: env('cache-b') });
    expect(r.code, r.stderr).toBe(0);
    const index = JSON.parse(execFileSync('tar', ['-xOf', path.join(tmp.dir, 'plain.tar'), 'index.json']).toString()) as { manifests: { digest: string }[] };
    const withSbom = JSON.parse(execFileSync('tar', ['-xOf', path.join(tmp.dir, 'a.tar'), 'index.json']).toString()) as { manifests: { digest: string }[] };
    expect(index.manifests.map((d) => d.digest)).toEqual([withSbom.manifests[0]!.digest]);
  });

  test('--docker (loading into the engine) writes the same SBOM file; --json names no artifact, none is stored', async () => {
    requireTool('docker');
    const file = path.join(tmp.dir, 'loaded.cdx.json');
    try {
      const r = await runDbco(['image', r17, '--docker', '--sbom', file, '--json', '-q'], { env: env('cache-a') });
      expect(r.code, r.stderr).toBe(0);
      expect(readFileSync(file).equals(sbom17)).toBe(true);
      expect((JSON.parse(r.stdout) as { sbom: unknown[] }).sbom).toEqual([{ platform: 'linux/386', file }]);
    } finally {
      execFileSync('docker', ['rmi', 'dbco-sbom17-test:1'], { stdio: 'ignore' });
    }
  });

  test('dbco fetch keeps the .tcz.info answers: --offline --sbom afterwards gives the same SBOM', async () => {
    const fetched = await runDbco(['fetch', r17, '-q'], { env: env('cache-fetch') });
    expect(fetched.code, fetched.stderr).toBe(0);
    const file = path.join(tmp.dir, 'offline.cdx.json');
    const r = await runDbco(['image', r17, '--docker', '--offline', '--output', path.join(tmp.dir, 'offline.tar'), '--sbom', file, '-q'], { env: env('cache-fetch') });
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(file).equals(sbom17)).toBe(true);
  });

  test('7.x x86 curl (no .tcz.info on the mirror): valid, no versions, still every tcz with its hashes and its .dep', async () => {
    const file = path.join(tmp.dir, 'seven.cdx.json');
    const r = await runDbco(['image', r7, '--docker', '--output', path.join(tmp.dir, 'seven.tar'), '--sbom', file, '-q'], { env: env('cache-a') });
    expect(r.code, r.stderr).toBe(0);
    const bytes = readFileSync(file);
    await validate(bytes);
    const bom = JSON.parse(bytes.toString()) as CdxBom;
    checkAgainstMirror(bom, TC7(), ['curl']);
    for (const c of bom.components.filter((x) => x.type === 'library')) {
      expect(c.version).toBeUndefined();
      expect(c.licenses).toBeUndefined();
      expect(c.purl).toBe(`pkg:generic/tinycore/${c.name}?arch=x86&release=7.2`);
    }
  });

  test('--disk writes the disk\'s SBOM: the same components, the subject an operating system', async () => {
    requireTool('mke2fs');
    const file = path.join(tmp.dir, 'disk.cdx.json');
    const r = await runDbco(['image', r7, '--disk', '--no-packer', '-o', path.join(tmp.dir, 'seven.raw'), '--sbom', file, '-q'], { env: env('cache-a') });
    expect(r.code, r.stderr).toBe(0);
    const bytes = readFileSync(file);
    await validate(bytes);
    const disk = JSON.parse(bytes.toString()) as CdxBom;
    const image = JSON.parse(readFileSync(path.join(tmp.dir, 'seven.cdx.json'), 'utf8')) as CdxBom;
    expect(disk.metadata.component).toMatchObject({ type: 'operating-system', name: 'sbom7' });
    expect(disk.components).toEqual(image.components);
    checkAgainstMirror(disk, TC7(), ['curl']);
  });

  test('--sbom in a folder that does not exist is a usage error before any work', async () => {
    const r = await runDbco(['image', r17, '--docker', '--output', path.join(tmp.dir, 'x.tar'), '--sbom', path.join(tmp.dir, 'no/such/s.json')], { env: env('cache-a') });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^dbco: --sbom .*no\/such\/s\.json: folder .* does not exist/m);
  });
});
