/**
 * Docker's reference grammar (distribution/reference), for a name with an optional tag:
 *   [domain[:port]/]path-component(/path-component)*[:tag]
 * A digest (`@sha256:...`) names content, not something dbco can tag, so it is not accepted here.
 */
const domainComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const domain = `${domainComponent}(?:\\.${domainComponent})*(?::[0-9]+)?`;
const pathComponent = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const tag = '[\\w][\\w.-]{0,127}';

export const IMAGE_REFERENCE = new RegExp(`^(?:${domain}/)?${pathComponent}(?:/${pathComponent})*(?::${tag})?$`);

/** Docker refuses a repository name (everything before the tag) longer than this. */
export const NAME_MAX = 255;

/** Why `ref` is not a usable image reference, or null when it is one. */
export function imageReferenceProblem(ref: string): string | null {
  if (!IMAGE_REFERENCE.test(ref)) {
    return `${JSON.stringify(ref)} is not a Docker image reference: [registry/]name[:tag], name in lowercase letters, digits and . _ - separators, tag up to 128 of [A-Za-z0-9_.-]`;
  }
  const colon = ref.lastIndexOf(':');
  const name = colon > ref.lastIndexOf('/') ? ref.slice(0, colon) : ref;
  if (name.length > NAME_MAX) return `${JSON.stringify(ref)}: the name is ${name.length} characters; Docker allows at most ${NAME_MAX}`;
  return null;
}
