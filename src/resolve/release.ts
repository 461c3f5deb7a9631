/**
 * `release: latest`: the release a mirror calls current, read as Tiny Core's own `version -c` reads it
 * (Core-scripts usr/bin/version: `$(cat /opt/tcemirror)/latest-$(getBuild)`), i.e. the file
 * `latest-x86` or `latest-x86_64` at the mirror's root, whose body is the release string.
 */
import { FetchError, RecipeError } from '../errors.js';
import { latestPath, parseLatest } from '../recipe/release.js';
import type { Arch } from '../recipe/schema.js';
import type { MirrorSource } from '../mirror/types.js';

/**
 * The release `latest` stands for on `mirror`, for one arch. A mirror without the file (404, or a
 * folder without it) is an error saying to pin the release.
 */
export async function resolveLatest(mirror: MirrorSource, arch: Arch): Promise<string> {
  const rel = latestPath(arch);
  const url = mirror.urlOf(rel);
  const body = await mirror.text(rel);
  if (body === null) {
    throw new FetchError(url, `release: latest: the mirror has no ${rel}, so it cannot say its latest release; pin release: in the recipe (e.g. release: "17.0")`);
  }
  return parseLatest(url, body);
}

/** An ISO holds one release and has no `latest-*` file: `latest` there is refused, naming the field. */
export function refuseLatestWithIso(where: string): never {
  throw new RecipeError(where, 'release', 'latest needs a mirror that answers latest-x86 / latest-x86_64; a base ISO holds one release: pin release: to it');
}
