import { readFileSync } from 'node:fs';

// Set by scripts/bundle.mjs (esbuild `define`): the bundle in dist/cli/ sits at another depth than
// the compiled tree, and reading package.json is then not needed at all.
declare const DBCO_VERSION: string | undefined;

let version: string | undefined;

/** dbco's own version, package.json's. */
export function dbcoVersion(): string {
  if (typeof DBCO_VERSION === 'string') return DBCO_VERSION;
  // Unbundled, src/version.ts and dist/src/version.js both sit two folders below package.json.
  version ??= (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  return version;
}
