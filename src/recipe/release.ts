/** A TC release as the recipe names it (17.0, 16.1, 6.4.1), and the word that asks the mirror for its current one. */
export const RELEASE_RE = /^\d+\.\d+(\.\d+)?$/;
export const LATEST = 'latest';
/** What the recipe's `release` field takes (a pattern, so the published JSON Schema carries it too). */
export const RELEASE_OR_LATEST = /^(\d+\.\d+(\.\d+)?|latest)$/;

/** The file at a mirror's root naming its current release for an arch (Core-scripts' `version -c` reads it). */
export function latestPath(arch: string): string {
  return `latest-${arch}`;
}

/** True for a mirror-relative path that is a `latest-*` file. */
export function isLatestPath(relOrUrl: string): boolean {
  return /(^|\/)latest-x86(_64)?$/.test(relOrUrl);
}
