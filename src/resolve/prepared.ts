/**
 * What the first half of every build (src/pipeline/prepare.ts) hands later stages: local, verified files in
 * install order. Defined here, where the resolver produces it, so no stage imports upward.
 */
import type { Arch, Recipe } from '../recipe/schema.js';
import type { CachedFile } from '../cache/cached-file.js';
import type { Logger } from '../io/logger.js';
import type { TczInfo } from './info-file.js';

export interface SourceOptions {
  mirror?: string;
  cache?: string;
  offline?: boolean;
  frozen?: boolean;
  log?: Logger;
  /**
   * false for outputs that never boot a kernel (Docker image, rootfs tar): the kernel is then fetched
   * only when a KERNEL extension name needs its version. Default true.
   */
  kernel?: boolean;
  /** Let `files[].src` name host files outside the recipe's folder (--allow-outside-src). */
  allowOutsideSrc?: boolean;
  /** The arch this run builds, for a recipe that lists several (each arch resolves and locks on its own). */
  arch?: Arch;
  /** Read each extension's .tcz.info too (for the SBOM); a mirror without one is not an error. */
  info?: boolean;
  /**
   * Called with each extension's payload as soon as it is verified (downloaded, or found in the cache),
   * while the walk and the other downloads go on: a build starts unpacking it then. Not called when
   * --offline takes the resolution from the lock.
   */
  onExtension?: (ext: { name: string; file: CachedFile }) => void;
  /** The base, once fetched and verified (while the extensions may still be downloading). */
  onBase?: (file: CachedFile) => void;
  /**
   * The extensions' install order, once the .dep walk is over and before every payload is in: the
   * order `extensions` will have if the resolution succeeds. Not called with --offline's lock.
   */
  onOrder?: (names: string[]) => void;
}

export interface PreparedExtension {
  /** File name with .tcz, e.g. 'openssh.tcz' (KERNEL already substituted). */
  name: string;
  file: CachedFile;
  /** Direct dependencies as named in its .dep (cleaned, .tcz appended, KERNEL substituted). */
  deps: string[];
  /** Its .tcz.info's fields, when asked for (SourceOptions.info) and the mirror has one. */
  info?: TczInfo;
}

export interface PreparedInputs {
  recipe: Recipe;
  recipePath: string;
  /** Folder that relative `files[].src` paths resolve against. */
  recipeDir: string;
  /** sha256 of the recipe file's bytes. */
  recipeDigest: string;
  /** sha256 of the canonical lock JSON without the kernel (resolve/lock.ts rootfsLockDigest; image labels use it). */
  lockDigest: string;
  base: CachedFile;
  kernel?: CachedFile;
  kernelVersion?: string;
  /** Dependencies before dependants, the order tce-load installs them. */
  extensions: PreparedExtension[];
  /** The recipe's own extensions as resolved (normalized names): the roots of the dependency tree. */
  roots?: string[];
  /** `files[].src` may name host files outside recipeDir (the user said so on the command line). */
  allowOutsideSrc?: boolean;
}
