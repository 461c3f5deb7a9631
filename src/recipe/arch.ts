/**
 * A recipe may name several arches; every build stage works on one. This narrows a recipe document to
 * one arch: the list becomes that arch, per-arch maps of base and kernel become that arch's value, and
 * what is left out takes TC's own file names for the arch.
 */
import { UsageError } from '../errors.js';
import type { Arch, FileBase, IsoBase, Recipe, RecipeDocument } from './schema.js';

export const ARCHES: readonly Arch[] = ['x86', 'x86_64'];

/** The OCI platform of each arch, as `--platform` and image indexes name it. */
export const PLATFORM: Record<Arch, 'linux/386' | 'linux/amd64'> = { x86: 'linux/386', x86_64: 'linux/amd64' };

/** What TC's own mirror calls the base initramfs and the kernel of each arch. */
export const DEFAULT_BASE: Record<Arch, string> = { x86: 'core.gz', x86_64: 'corepure64.gz' };
export const DEFAULT_KERNEL: Record<Arch, string> = { x86: 'vmlinuz', x86_64: 'vmlinuz64' };

/** The arches a recipe builds, in the order it lists them. */
export function archesOf(doc: RecipeDocument): Arch[] {
  return typeof doc.arch === 'string' ? [doc.arch] : [...doc.arch];
}

export function isMultiArch(doc: RecipeDocument): boolean {
  return archesOf(doc).length > 1;
}

type BaseValue = string | IsoBase | FileBase;
type PerArch<T> = { x86?: T; x86_64?: T };

function isPerArch<T>(v: T | PerArch<T> | undefined): v is PerArch<T> {
  return typeof v === 'object' && v !== null && !('iso' in v) && !('file' in v);
}

function pick<T>(v: T | PerArch<T> | undefined, arch: Arch): T | undefined {
  return isPerArch(v) ? v[arch] : v;
}

/**
 * The recipe as one arch builds it. A single-arch recipe comes back with the same fields as written
 * (a kernel only when it names one), so its images and disks do not change.
 */
export function forArch(doc: RecipeDocument, arch: Arch): Recipe {
  const multi = isMultiArch(doc);
  const { arch: _arches, base, kernel, ...rest } = doc;
  const oneBase = (pick<BaseValue>(base, arch) ?? DEFAULT_BASE[arch]) as BaseValue;
  const oneKernel = pick<string>(kernel, arch) ?? (multi ? DEFAULT_KERNEL[arch] : undefined);
  return { ...rest, arch, base: oneBase, ...(oneKernel !== undefined ? { kernel: oneKernel } : {}) };
}

/** 'linux/386', 'linux/amd64' (or the arch names themselves) -> the arch. */
export function archOfPlatform(platform: string): Arch {
  const p = platform.trim().toLowerCase();
  if (p === 'linux/386' || p === '386' || p === 'x86' || p === 'i386') return 'x86';
  if (p === 'linux/amd64' || p === 'amd64' || p === 'x86_64') return 'x86_64';
  throw new UsageError(`--platform ${platform}: expected linux/386 or linux/amd64`);
}

/** The arch of the machine this runs on, the one `--docker` loads unless told otherwise. */
export function hostArch(nodeArch: string = process.arch): Arch {
  return nodeArch === 'ia32' ? 'x86' : 'x86_64';
}

/**
 * The one arch a command builds: `wanted` (from --platform) when given and in the recipe, else the
 * recipe's only arch; a multi-arch recipe without `wanted` is an error naming the choice.
 */
export function pickArch(doc: RecipeDocument, file: string, wanted?: Arch, what = 'this command'): Arch {
  const arches = archesOf(doc);
  if (wanted) {
    if (!arches.includes(wanted)) {
      throw new UsageError(`${file}: --platform ${PLATFORM[wanted]}: the recipe builds ${arches.map((a) => PLATFORM[a]).join(', ')} only`);
    }
    return wanted;
  }
  if (arches.length > 1) {
    throw new UsageError(`${file}: arch lists ${arches.join(', ')}: ${what} builds one; pick it with --platform ${arches.map((a) => PLATFORM[a]).join(' or ')}`);
  }
  return arches[0]!;
}
