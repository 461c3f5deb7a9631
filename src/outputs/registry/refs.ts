import { UsageError } from '../../errors.js';

/** A parsed image reference: where to push and under which tag (or digest). */
export interface ImageRef {
  /** As written in certs.d and config.json: host[:port]; Docker Hub is 'docker.io'. */
  registry: string;
  repository: string;
  tag?: string;
  digest?: string;
}

const COMPONENT = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;

/** Docker's rules: 'demo' is docker.io/library/demo:latest; a first part with '.' or ':' or 'localhost' is a host. */
export function parseRef(ref: string): ImageRef {
  const bad = (why: string): never => { throw new UsageError(`image reference ${JSON.stringify(ref)}: ${why}`); };
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) bad('the digest is not sha256:<64 hex>');
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) bad(`bad tag ${JSON.stringify(tag)}`);
  }
  const slash = rest.indexOf('/');
  const first = slash < 0 ? '' : rest.slice(0, slash);
  let registry = 'docker.io';
  let repository = rest;
  if (first && (first.includes('.') || first.includes(':') || first === 'localhost')) {
    registry = first;
    repository = rest.slice(slash + 1);
  }
  if (registry === 'docker.io' && !repository.includes('/')) repository = `library/${repository}`;
  if (!repository || !repository.split('/').every((c) => COMPONENT.test(c))) bad('the repository name must be lowercase letters, digits and separators');
  if (!tag && !digest) tag = 'latest';
  return { registry, repository, tag, digest };
}

export const formatRef = (r: ImageRef): string => `${r.registry}/${r.repository}${r.tag ? `:${r.tag}` : ''}${r.digest ? `@${r.digest}` : ''}`;

/** The host the API is served from: Docker Hub's API is not at docker.io. */
export const apiHost = (registry: string): string => (registry === 'docker.io' ? 'registry-1.docker.io' : registry);

/** Hosts dockerd and podman talk plain http to without being told: the loopback. */
export function isLoopback(registry: string): boolean {
  const host = registry.replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1');
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
