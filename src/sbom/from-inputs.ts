/** A build's verified inputs (PreparedInputs) as the SBOM builder's input: which files, which versions. */
import path from 'node:path';
import type { PreparedInputs } from '../resolve/prepared.js';
import type { SbomInput } from './cyclonedx.js';

/** 'iso:/x/CorePlus.iso!/boot/core.gz', a URL or a path -> 'core.gz'. */
export function fileNameOf(origin: string): string {
  return path.posix.basename(origin.split('!').pop()!.replace(/[?#].*$/, ''));
}

export function sbomInputOf(inputs: PreparedInputs, subject: SbomInput['subject'], tool: SbomInput['tool'], epoch: number): SbomInput {
  const { recipe } = inputs;
  return {
    subject,
    release: recipe.release,
    arch: recipe.arch,
    epoch,
    tool,
    base: { name: fileNameOf(inputs.base.origin), sha256: inputs.base.sha256, ...(inputs.base.md5 ? { md5: inputs.base.md5 } : {}) },
    extensions: inputs.extensions.map((e) => ({
      name: e.name,
      sha256: e.file.sha256,
      deps: e.deps,
      ...(e.file.md5 ? { md5: e.file.md5 } : {}),
      ...(e.info?.version ? { version: e.info.version } : {}),
      ...(e.info?.copyingPolicy ? { license: e.info.copyingPolicy } : {}),
      ...(e.info?.description ? { description: e.info.description } : {}),
    })),
    roots: inputs.roots ?? (recipe.extensions ?? []).map((n) => (n.endsWith('.tcz') ? n : `${n}.tcz`)),
  };
}
