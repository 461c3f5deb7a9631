/**
 * The newest Engine API version dbco speaks: Docker 26.1's. Like the docker CLI, dbco uses the lower of
 * this and the engine's (its ping's API-Version header), so an older engine is asked in its own version
 * and a newer one answers as 26.1 did. DOCKER_API_VERSION pins it, as for the CLI.
 */
export const OUR_API_VERSION = '1.45';
/** What the CLI assumes of an engine that does not say. */
const OLDEST_API_VERSION = '1.24';

export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

export function negotiateVersion(server: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (env.DOCKER_API_VERSION) return env.DOCKER_API_VERSION.replace(/^v/, '');
  const theirs = server && /^\d+\.\d+$/.test(server) ? server : OLDEST_API_VERSION;
  return compareVersions(theirs, OUR_API_VERSION) < 0 ? theirs : OUR_API_VERSION;
}
