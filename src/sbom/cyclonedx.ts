/**
 * The SBOM of one image or disk as CycloneDX 1.6 JSON: pure, inputs to bytes, no I/O. The same input
 * gives the same bytes: lists sorted, the timestamp is the build's epoch, and the serial number is
 * derived from the document itself.
 */
import { createHash } from 'node:crypto';
import { ComponentType, HashAlgorithm } from '@cyclonedx/cyclonedx-library/Enums';
import { Bom, Component, HashDictionary, LicenseRepository, Metadata, NamedLicense, SpdxLicense, Tools } from '@cyclonedx/cyclonedx-library/Models';
import { JsonSerializer, JSON as JsonNormalize } from '@cyclonedx/cyclonedx-library/Serialize';
import { isSupportedSpdxId } from '@cyclonedx/cyclonedx-library/SPDX';
import { Spec1dot6 } from '@cyclonedx/cyclonedx-library/Spec';

export interface SbomPackage {
  /** File name as the .dep files name it, e.g. 'openssl.tcz'. */
  name: string;
  version?: string;
  /** The .tcz.info's Copying-policy, as written. */
  license?: string;
  description?: string;
  md5?: string;
  sha256: string;
  /** Direct dependencies (file names, as in `name`). */
  deps: string[];
}

export interface SbomInput {
  /** What the SBOM describes: the image (container) or the disk (operating system) built from a recipe. */
  subject: { kind: 'image' | 'disk'; name: string; version?: string };
  release: string;
  arch: string;
  /** Seconds since 1970: the build's SOURCE_DATE_EPOCH, the document's timestamp. */
  epoch: number;
  tool: { name: string; version: string };
  /** The base initramfs (core.gz, rootfs64.gz, ...). */
  base: { name: string; md5?: string; sha256: string };
  extensions: SbomPackage[];
  /** The recipe's own extensions: what the subject depends on besides the base. */
  roots: string[];
}

const enc = (s: string): string => encodeURIComponent(s);

/** pkg:generic/tinycore/NAME@VERSION?arch=...&release=... (qualifiers sorted, as the purl spec asks). */
export function tinycorePurl(name: string, version: string | undefined, arch: string, release: string): string {
  return `pkg:generic/tinycore/${enc(name)}${version ? `@${enc(version)}` : ''}?arch=${enc(arch)}&release=${enc(release)}`;
}

/** 'openssl.tcz' -> 'openssl': the package's name, as `tce-load -wi openssl` takes it. */
export const packageName = (file: string): string => file.replace(/\.tcz$/, '');

function hashes(md5: string | undefined, sha256: string): HashDictionary {
  const h = new HashDictionary();
  if (md5) h.set(HashAlgorithm.MD5, md5);
  h.set(HashAlgorithm['SHA-256'], sha256);
  return h;
}

/** A policy that is exactly one SPDX id becomes that id; anything else is kept as the text it is. */
function licenses(policy: string | undefined): LicenseRepository {
  const repo = new LicenseRepository();
  if (!policy) return repo;
  repo.add(isSupportedSpdxId(policy) ? new SpdxLicense(policy) : new NamedLicense(policy));
  return repo;
}

/**
 * A serial number that is a function of the document: sha256 of the document without it, shaped as
 * an RFC 4122 UUID (version 5 bits: name-based) so the CycloneDX schema's urn:uuid pattern accepts it.
 */
export function contentSerial(bytes: Uint8Array): string {
  const h = createHash('sha256').update(bytes).digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `urn:uuid:${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

function buildBom(input: SbomInput): Bom {
  const { arch, release } = input;
  const subject = new Component(input.subject.kind === 'image' ? ComponentType.Container : ComponentType.OperatingSystem, input.subject.name, {
    bomRef: `dbco:${input.subject.kind}:${input.subject.name}`,
    ...(input.subject.version ? { version: input.subject.version } : {}),
  });
  const basePurl = tinycorePurl(input.base.name, release, arch, release);
  const base = new Component(ComponentType.OperatingSystem, input.base.name, {
    bomRef: basePurl, version: release, purl: basePurl, hashes: hashes(input.base.md5, input.base.sha256),
    description: `Tiny Core Linux ${release} ${arch} base initramfs`,
  });
  const byName = new Map<string, Component>();
  for (const e of input.extensions) {
    const name = packageName(e.name);
    const purl = tinycorePurl(name, e.version, arch, release);
    byName.set(e.name, new Component(ComponentType.Library, name, {
      bomRef: purl, purl, hashes: hashes(e.md5, e.sha256), licenses: licenses(e.license),
      ...(e.version ? { version: e.version } : {}),
      ...(e.description ? { description: e.description } : {}),
    }));
  }
  // Dependencies the mirror lacks were refused by the resolver; one not among the components cannot be named.
  for (const e of input.extensions) {
    const c = byName.get(e.name)!;
    for (const d of e.deps) {
      const dep = byName.get(d);
      if (dep) c.dependencies.add(dep.bomRef);
    }
  }
  subject.dependencies.add(base.bomRef);
  for (const r of input.roots) {
    const c = byName.get(r);
    if (c) subject.dependencies.add(c.bomRef);
  }
  const tool = new Component(ComponentType.Application, input.tool.name, { version: input.tool.version, bomRef: `${input.tool.name}@${input.tool.version}` });
  const bom = new Bom({
    metadata: new Metadata({ timestamp: new Date(input.epoch * 1000), tools: new Tools(), component: subject }),
  });
  bom.metadata.tools.components.add(tool);
  bom.components.add(base);
  for (const c of byName.values()) bom.components.add(c);
  return bom;
}

/** The SBOM's bytes: two-space JSON with a final newline. */
export function buildSbom(input: SbomInput): Buffer {
  const serializer = new JsonSerializer(new JsonNormalize.Normalize.Factory(Spec1dot6));
  const bom = buildBom(input);
  const draft = serializer.serialize(bom, { sortLists: true, space: 2 });
  bom.serialNumber = contentSerial(Buffer.from(draft));
  return Buffer.from(`${serializer.serialize(bom, { sortLists: true, space: 2 })}\n`);
}
