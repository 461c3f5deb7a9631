import { describe, expect, test } from 'vitest';
import { Version } from '@cyclonedx/cyclonedx-library/Spec';
import { JsonStrictValidator } from '@cyclonedx/cyclonedx-library/Validation';
import { buildSbom, contentSerial, tinycorePurl, type SbomInput } from '../../src/sbom/cyclonedx.js';
import type { CdxBom } from './fixture.js';

const input = (over: Partial<SbomInput> = {}): SbomInput => ({
  subject: { kind: 'image', name: 'demo', version: 'demo:1' },
  release: '17.0', arch: 'x86', epoch: 86400,
  tool: { name: 'dbco', version: '0.1.0' },
  base: { name: 'core.gz', md5: 'a'.repeat(32), sha256: 'b'.repeat(64) },
  extensions: [
    { name: 'libz.tcz', version: '1.3', license: 'Zlib', sha256: 'c'.repeat(64), md5: 'd'.repeat(32), deps: [] },
    { name: 'gtk+.tcz', version: '2.24 beta', license: 'LGPLv2', sha256: 'e'.repeat(64), deps: ['libz.tcz', 'missing.tcz'] },
  ],
  roots: ['gtk+.tcz'],
  ...over,
});
const parse = (b: Buffer): CdxBom => JSON.parse(b.toString()) as CdxBom;

describe('the CycloneDX builder (pure)', () => {
  test('valid 1.6; an exact SPDX id is an id, prose stays a name; purls percent-encoded', async () => {
    const bytes = buildSbom(input());
    expect(await new JsonStrictValidator(Version.v1dot6).validate(bytes.toString())).toBeNull();
    const bom = parse(bytes);
    const byName = new Map(bom.components.map((c) => [c.name, c]));
    expect(byName.get('libz')!.licenses).toEqual([{ license: { id: 'Zlib' } }]);
    expect(byName.get('gtk+')!.licenses).toEqual([{ license: { name: 'LGPLv2' } }]);
    expect(byName.get('gtk+')!.purl).toBe('pkg:generic/tinycore/gtk%2B@2.24%20beta?arch=x86&release=17.0');
    expect(bom.metadata.timestamp).toBe('1970-01-02T00:00:00.000Z');
  });

  test('a dependency that is no component is left out of the graph; the subject depends on the base and the roots', () => {
    const bom = parse(buildSbom(input()));
    const gtk = bom.dependencies.find((d) => d.ref.includes('gtk'))!;
    expect(gtk.dependsOn).toEqual([tinycorePurl('libz', '1.3', 'x86', '17.0')]);
    const top = bom.dependencies.find((d) => d.ref === 'dbco:image:demo')!;
    expect(top.dependsOn).toEqual([tinycorePurl('core.gz', '17.0', 'x86', '17.0'), tinycorePurl('gtk+', '2.24 beta', 'x86', '17.0')].sort());
  });

  test('deterministic: the order of the input does not matter; the serial number follows the content', () => {
    const a = buildSbom(input());
    const b = buildSbom(input({ extensions: input().extensions.slice().reverse() }));
    expect(a.equals(b)).toBe(true);
    const c = buildSbom(input({ epoch: 86401 }));
    expect(parse(c).serialNumber).not.toBe(parse(a).serialNumber);
    expect(contentSerial(Buffer.from('x'))).toBe(contentSerial(Buffer.from('x')));
    expect(contentSerial(Buffer.from('x'))).toMatch(/^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  test('no md5 known: only the SHA-256; no .info: no version, no license, a purl without @', () => {
    const bom = parse(buildSbom(input({ extensions: [{ name: 'bare.tcz', sha256: 'f'.repeat(64), deps: [] }], roots: ['bare.tcz'] })));
    const bare = bom.components.find((c) => c.name === 'bare')!;
    expect(bare.hashes).toEqual([{ alg: 'SHA-256', content: 'f'.repeat(64) }]);
    expect(bare.version).toBeUndefined();
    expect(bare.licenses).toBeUndefined();
    expect(bare.purl).toBe('pkg:generic/tinycore/bare?arch=x86&release=17.0');
  });
});
