import { FetchError } from '../errors.js';
import { isLatestPath, parseLatest } from '../recipe/release.js';

/**
 * What a mirror's metadata answer must look like before it is believed and stored: a bad answer kept
 * in the metadata store would be trusted for a day (DBCO_METADATA_TTL).
 *   .dep      names ending .tcz, one a line, no markup (an HTML error page, or a body cut short in the
 *             middle of a name, fails this)
 *   .md5.txt  32 hex digits first
 *   latest-*  one release string such as 17.0 (`release: latest`)
 *   .info     `Field: value` lines (a continuation line starts with a blank), no markup, no NUL: an
 *             HTML page or binary junk fails this
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
  } else if (url.endsWith('.tcz.info')) {
    checkInfo(url, text);
  } else if (url.endsWith('.md5.txt')) {
    if (!/^[0-9a-fA-F]{32}(\s|$)/.test(text.trimStart())) {
      throw new FetchError(url, `not an .md5.txt (${JSON.stringify(text.slice(0, 60))}): refused, not cached`);
    }
  } else if (isLatestPath(url)) {
    parseLatest(url, text, ': refused, not cached');
  }
}

function checkInfo(url: string, text: string): void {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const field = /^[A-Za-z][A-Za-z0-9_ -]*:/;
  let problem: string | undefined;
  if (text.includes('\0')) problem = 'a NUL byte';
  else if (lines.length === 0) problem = 'empty';
  else if (/<\s*(!doctype|html|head|body)\b/i.test(text)) problem = 'HTML markup';
  else {
    const odd = lines.find((l, i) => (i === 0 || !/^\s/.test(l)) && !field.test(l));
    if (odd !== undefined) problem = `a line is ${JSON.stringify(odd.slice(0, 60))}`;
  }
  if (problem) throw new FetchError(url, `not a .tcz.info file (${problem}): refused, not cached`);
}
