/**
 * A `NAME.tcz.info` file: `Field: value` lines, a value continued on lines that start with a blank.
 * Only the fields an SBOM states are kept; the rest (Change-log, Comments, ...) is prose.
 */
export interface TczInfo {
  version?: string;
  /** As written: TC's policies are prose ("GPLv2", "see list of sites below"), rarely an SPDX id. */
  copyingPolicy?: string;
  description?: string;
}

export function parseInfoText(text: string): TczInfo {
  const fields = new Map<string, string>();
  let last: string | undefined;
  for (const raw of text.replace(/\r/g, '').split('\n')) {
    if (raw.trim() === '') continue;
    const m = /^([A-Za-z][A-Za-z0-9_ -]*?)\s*:(.*)$/.exec(raw);
    if (m && !/^\s/.test(raw)) {
      last = m[1]!.toLowerCase();
      // The first occurrence wins: a field is not meant to repeat.
      if (!fields.has(last)) fields.set(last, m[2]!.trim());
      else last = undefined;
    } else if (last) {
      fields.set(last, `${fields.get(last)!} ${raw.trim()}`.trim());
    }
  }
  const pick = (k: string): string | undefined => {
    const v = fields.get(k);
    return v ? v : undefined;
  };
  const info: TczInfo = {};
  const version = pick('version');
  const copyingPolicy = pick('copying-policy');
  const description = pick('description');
  if (version) info.version = version;
  if (copyingPolicy) info.copyingPolicy = copyingPolicy;
  if (description) info.description = description;
  return info;
}
