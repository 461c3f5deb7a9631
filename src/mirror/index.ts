import { FetchError } from '../errors.js';
import { FolderMirror } from './folder.js';
import { HttpMirror } from './http.js';
import type { MirrorSource } from './types.js';

export { openIsoMirror, type IsoMirror, type IsoMirrorOptions } from './iso.js';
export { HttpMirror } from './http.js';
import type { HttpMirrorOptions } from './http.js';
export { FolderMirror } from './folder.js';
export { DEFAULT_RETRY, type RetryPolicy } from './download.js';
export type { Expected, MirrorSource } from './types.js';

export const DEFAULT_MIRROR = 'http://tinycorelinux.net';

/** The same options for every kind of source; a folder ignores what only HTTP uses. */
export type MirrorOptions = HttpMirrorOptions;

/** An http(s) URL is a remote mirror; a file:// URL or a path is a local folder in mirror layout. */
export function openMirror(location: string, opts: MirrorOptions): MirrorSource {
  if (/^https?:\/\//i.test(location)) return new HttpMirror(location, opts);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(location) && !/^file:\/\//i.test(location)) {
    throw new FetchError(location, 'unsupported mirror scheme: use http(s)://, file:// or a folder path');
  }
  return new FolderMirror(location, { cache: opts.cache, ...(opts.log ? { log: opts.log } : {}) });
}
