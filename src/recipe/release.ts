import { FetchError } from '../errors.js';

/** A TC release as the recipe names it (17.0, 16.1, 6.4.1), and the word that asks the mirror for its current one. */
const RELEASE = String.raw`\d+\.\d+(\.\d+)?`;
export const RELEASE_RE = new RegExp(`^${RELEASE}$`);
export const LATEST = 'latest';
/** What the recipe's `release` field takes (a pattern, so the published JSON Schema carries it too). */
export const RELEASE_OR_LATEST = new RegExp(`^(${RELEASE}|${LATEST})$`);

/** The file at a mirror's root naming its current release for an arch (Core-scripts' `version -c` reads it). */
export function latestPath(arch: string): string {
  return `latest-${arch}`;
}

/** True for a mirror-relative path that is a `latest-*` file. */
export function isLatestPath(relOrUrl: string): boolean {
  return /(^|\/)latest-x86(_64)?$/.test(relOrUrl);
}

/**
 * The release a `latest-*` body names; a body that is not one release string (an HTML page, garbage) is
 * refused naming `url`. `note` ends the message (the HTTP mirror says it is not cached).
 */
export function parseLatest(url: string, body: string, note = ''): string {
  const text = body.trim();
  if (!RELEASE_RE.test(text)) {
    throw new FetchError(url, `release: latest: not a release string (${JSON.stringify(text.slice(0, 60))}); expected e.g. "17.0"${note}`);
  }
  return text;
}
