/**
 * The SBOM of a build, for both outputs: the pure builder (src/sbom) fed from the build's inputs, and
 * the --sbom file(s) written whole or not at all.
 */
import path from 'node:path';
import { writeFileAtomic } from '../cache/atomic.js';
import type { PreparedInputs } from '../resolve/prepared.js';
import { buildSbom, type SbomInput } from '../sbom/cyclonedx.js';
import { sbomInputOf } from '../sbom/from-inputs.js';
import { dbcoVersion } from '../version.js';

export function sbomOfBuild(inputs: PreparedInputs, subject: SbomInput['subject'], epoch: number): Buffer {
  return buildSbom(sbomInputOf(inputs, subject, { name: 'dbco', version: dbcoVersion() }, epoch));
}

/**
 * One SBOM goes to FILE; several (a multi-arch build, one per platform) go beside it with the arch
 * before the extension: sbom.json -> sbom.x86.json, sbom.x86_64.json. Returns the paths written.
 */
export async function writeSbomFiles(file: string, sboms: { arch: string; bytes: Buffer }[]): Promise<string[]> {
  const ext = path.extname(file);
  const stem = file.slice(0, file.length - ext.length);
  const named = sboms.length === 1 ? [{ dest: file, bytes: sboms[0]!.bytes }] : sboms.map((s) => ({ dest: `${stem}.${s.arch}${ext}`, bytes: s.bytes }));
  for (const { dest, bytes } of named) await writeFileAtomic(path.dirname(path.resolve(dest)), dest, bytes);
  return named.map((n) => n.dest);
}
