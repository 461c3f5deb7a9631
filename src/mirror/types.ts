/**
 * CONTRACT between the mirror/cache work and the resolver. A MirrorSource is one place TC files come
 * from: an http(s) mirror, a local folder in mirror layout, or a TC ISO. Paths are mirror-relative,
 * e.g. '6.x/x86_64/tcz/openssh.tcz' or '6.x/x86_64/release/distribution_files/rootfs64.gz'.
 */
import type { CachedFile } from '../cache/cached-file.js';

export interface Expected {
  md5?: string;
  sha256?: string;
  size?: number;
}

export interface MirrorSource {
  /** The mirror's base as the user gave it (URL or folder), for messages. */
  readonly location: string;
  /** Full URL or path of a mirror-relative path, for messages and the lock. */
  urlOf(relPath: string): string;
  /**
   * A small text file (.dep, .md5.txt, .info); null when the mirror has no such file (404 / ENOENT).
   * Kept in the cache's metadata store, so warm and --offline runs answer without the network.
   */
  text(relPath: string): Promise<string | null>;
  /**
   * A payload (tcz, initramfs, kernel) into the content-addressed cache, verified against `expect`
   * (and the mirror's .md5.txt when `expect.md5` is undefined and the mirror has one). null when absent.
   * A digest mismatch throws DigestMismatchError and caches nothing.
   */
  fetch(relPath: string, expect?: Expected): Promise<CachedFile | null>;
  /**
   * Whether a payload is on the source, without downloading it (HTTP HEAD, stat, ISO lookup).
   * Answers are kept in the cache's metadata store like texts; --offline answers from there.
   * Optional so other sources need not implement it; every source in src/mirror does.
   */
  exists?(relPath: string): Promise<boolean>;
}
