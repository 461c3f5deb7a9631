/** A verified file in the cache. `path` is read-only: never modify it. */
export interface CachedFile {
  path: string;
  sha256: string;
  size: number;
  md5?: string;
  /** Where it came from: a mirror URL, a file path, or iso:PATH!/inner/path. */
  origin: string;
}
