import { DbcoError } from '../errors.js';

/** Largest mtime a ustar header's 11 octal digits can hold without a PAX record. */
const MAX_EPOCH = 8 ** 11 - 1;

/**
 * The one timestamp every layer, tar and cpio entry carries, so builds are reproducible: SOURCE_DATE_EPOCH
 * (reproducible-builds.org) when set, else 0. A malformed value is an error rather than silently 0, since
 * it would quietly change every digest.
 */
export function buildEpoch(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.SOURCE_DATE_EPOCH;
  if (raw === undefined || raw.trim() === '') return 0;
  const value = raw.trim();
  if (!/^\d+$/.test(value) || Number(value) > MAX_EPOCH) {
    throw new DbcoError('ENV', `SOURCE_DATE_EPOCH: expected whole seconds since 1970 (0..${MAX_EPOCH}), got ${JSON.stringify(raw)}`);
  }
  return Number(value);
}
