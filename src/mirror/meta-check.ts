import { FetchError } from '../errors.js';
import { isLatestPath, RELEASE_RE } from '../recipe/release.js';

/**
 * What a mirror's metadata answer must look like before it is believed and stored: a bad answer kept
 * in the metadata store would be trusted for a day (DBCO_METADATA_TTL).
 *   .dep      names ending .tcz, one a line, no markup (an HTML error page, or a body cut short in the
 *             middle of a name, fails this)
 *   .md5.txt  32 hex digits first
 *   latest-*  one release string such as 17.0 (`release: latest`)
 * Other texts are not checked. Throws a FetchError naming the URL.
 */
export function checkMetaText(url: string, text: string): void {
  if (url.endsWith('.dep')) {
    for (const line of text.split('\n')) {
      const name = line.replace(/\s+/g, '');
      if (name === '') continue;
      if (!/^[A-Za-z0-9][A-Za-z0-9._+~-]*\.tcz$/.test(name)) {
        throw new FetchError(url, `not a .dep file (a line is ${JSON.stringify(name.slice(0, 60))}): refused, not cached`);
      }
    }
  } else if (url.endsWith('.md5.txt')) {
    if (!/^[0-9a-fA-F]{32}(\s|$)/.test(text.trimStart())) {
      throw new FetchError(url, `not an .md5.txt (${JSON.stringify(text.slice(0, 60))}): refused, not cached`);
    }
  } else if (isLatestPath(url)) {
    if (!RELEASE_RE.test(text.trim())) {
      throw new FetchError(url, `release: latest: not a release string (${JSON.stringify(text.trim().slice(0, 60))}; expected e.g. "17.0"): refused, not cached`);
    }
  }
}
