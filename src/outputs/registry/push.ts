import { RegistryError, UsageError } from '../../errors.js';
import type { Logger } from '../../io/logger.js';
import { LayoutError, MEDIA_OCI_INDEX, MEDIA_OCI_MANIFEST, type Descriptor, type ImageIndex, type OciLayout } from '../oci/layout.js';
import { layoutContents, walkImage, type ImageGraph, type ManifestNode } from '../oci/walk.js';
import { pushScope, RegistryClient, type ClientOptions } from './client.js';
import { MountRecord } from './mounts.js';
import { formatRef, parseRef, type ImageRef } from './refs.js';
import { toDockerSchema2 } from './schema2.js';
import { pushBlob, type BlobOutcome } from './upload.js';

export interface PushOptions extends Omit<ClientOptions, 'insecure'> {
  /** Registries (host[:port]) named with --insecure-registry. */
  insecureRegistries?: string[];
  /** Cache root: where the record of pushed blobs (for mounts) lives. */
  cache: string;
  chunkSize?: number;
  log?: Logger;
  /** Blob pushes at once. */
  parallel?: number;
}

export interface PushResult {
  /** The references pushed, as given. */
  refs: string[];
  registry: string;
  repository: string;
  digest: string;
  mediaType: string;
  blobs: Record<BlobOutcome, number>;
  /** Artifacts (e.g. the SBOM) pushed with a subject in this image, and how the registry links them. */
  referrers: { digest: string; artifactType?: string; via: 'referrers-api' | 'referrers-tag' }[];
}

const silent: Logger = { info() {}, warn() {} };

/**
 * Pushes the layout's one image (a manifest or a multi-arch index) to each reference. For each
 * repository: blobs first (HEAD, mount, or upload), then manifests children first, then artifacts
 * whose subject is one of them, and the tags last, so a push that fails leaves no tag pointing at a
 * half-pushed image.
 */
export async function pushLayout(layout: OciLayout, refs: string[], opts: PushOptions, connected?: Map<string, RegistryClient>): Promise<PushResult[]> {
  const log = opts.log ?? silent;
  const parsed = refs.map((r) => ({ text: r, ref: parseRef(r) }));
  const clients = connected ?? new Map<string, RegistryClient>();
  try {
    return await pushAll(layout, parsed, opts, log, clients);
  } finally {
    for (const c of clients.values()) c.close();
  }
}

/**
 * Connects to each registry and checks that the credentials may push to each repository, before
 * anything long runs: a wrong password or a missing CA is reported in a second, not after a build.
 */
export async function connectForPush(refs: string[], opts: Omit<PushOptions, 'cache'>): Promise<Map<string, RegistryClient>> {
  const clients = new Map<string, RegistryClient>();
  try {
    for (const ref of refs.map(parseRef)) {
      let client = clients.get(ref.registry);
      if (!client) {
        client = await RegistryClient.connect(ref.registry, { ...opts, insecure: opts.insecureRegistries?.includes(ref.registry) });
        clients.set(ref.registry, client);
      }
      const res = await client.request(ref.repository, [pushScope(ref.repository)], { method: 'GET', url: '/v2/' });
      if (res.status !== 200) throw client.fail(ref.repository, res, 'checking access');
    }
    return clients;
  } catch (err) {
    for (const c of clients.values()) c.close();
    throw err;
  }
}

async function pushAll(
  layout: OciLayout, parsed: { text: string; ref: ImageRef }[], opts: PushOptions, log: Logger, clients: Map<string, RegistryClient>,
): Promise<PushResult[]> {
  const contents = await layoutContents(layout);
  if (contents.images.length !== 1) {
    throw new LayoutError(layout.where, `holds ${contents.images.length} images (${contents.images.map((d) => d.digest).join(', ') || 'none'}); a push takes exactly one`);
  }
  const graph = await walkImage(layout, contents.images[0]!);
  const groups = new Map<string, { ref: ImageRef; texts: string[]; tags: string[] }>();
  for (const { text, ref } of parsed) {
    const key = `${ref.registry}/${ref.repository}`;
    const g = groups.get(key) ?? { ref, texts: [], tags: [] };
    g.texts.push(text);
    if (ref.tag && !g.tags.includes(ref.tag)) g.tags.push(ref.tag);
    if (ref.digest && ref.digest !== graph.root.digest) {
      throw new UsageError(`${text}: the image's digest is ${graph.root.digest}, not ${ref.digest}`);
    }
    groups.set(key, g);
  }
  const results: PushResult[] = [];
  for (const g of groups.values()) {
    const { registry } = g.ref;
    let client = clients.get(registry);
    if (!client) {
      client = await RegistryClient.connect(registry, { ...opts, insecure: opts.insecureRegistries?.includes(registry) });
      clients.set(registry, client);
    }
    const record = await MountRecord.open(opts.cache, registry);
    try {
      results.push(await pushToRepository(client, record, layout, graph, contents.artifacts, g, opts, log));
    } finally {
      await record.save();
    }
  }
  return results;
}

async function pushToRepository(
  client: RegistryClient, record: MountRecord, layout: OciLayout, graph: ImageGraph,
  artifacts: { graph: ImageGraph; subject: Descriptor }[], g: { ref: ImageRef; texts: string[]; tags: string[] },
  opts: PushOptions, log: Logger,
): Promise<PushResult> {
  const repo = g.ref.repository;
  const where = formatRef({ ...g.ref, tag: undefined, digest: undefined });
  const blobs: Record<BlobOutcome, number> = { existing: 0, mounted: 0, uploaded: 0 };
  const pushBlobs = async (list: Descriptor[]): Promise<void> => {
    let next = 0;
    let failed = false;
    const worker = async (): Promise<void> => {
      while (!failed && next < list.length) {
        const desc = list[next++]!;
        try {
          const outcome = await pushBlob(client, repo, desc, layout, { mountFrom: record.sources(desc.digest, repo).slice(0, 3), chunkSize: opts.chunkSize });
          blobs[outcome]++;
          record.add(desc.digest, repo);
          if (outcome !== 'existing') log.info(`${where}: ${outcome} ${desc.digest.slice(0, 19)} (${desc.size} bytes)`);
        } catch (err) {
          failed = true;
          throw err;
        }
      }
    };
    // On the first failure the others take no new blob, and the push returns only when none is on the
    // wire: Promise.all would reject at once and leave them requesting (tokens, uploads) after it.
    const settled = await Promise.allSettled(Array.from({ length: Math.min(opts.parallel ?? 3, list.length) }, worker));
    const failure = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure) throw failure.reason;
  };

  await pushBlobs(graph.blobs);
  let manifests = graph.manifests;
  try {
    for (const m of manifests) await putManifest(client, repo, m, m.desc.digest);
  } catch (err) {
    if (!(err instanceof OciRefusedError)) throw err;
    // A registry that predates OCI media types: the same image as Docker schema 2 (other digests).
    log.warn(`${where}: the registry refuses OCI manifests; pushing Docker schema 2 manifests instead`);
    manifests = toDockerSchema2(graph.manifests);
    for (const m of manifests) await putManifest(client, repo, m, m.desc.digest);
  }
  const root = manifests[manifests.length - 1]!;

  const referrers: PushResult['referrers'] = [];
  const pushed = new Set(manifests.map((m) => m.desc.digest));
  for (const a of artifacts) {
    if (!pushed.has(a.subject.digest)) {
      // Its subject went up as Docker schema 2 (another digest), and the registry takes no OCI manifest: say so, not nothing.
      if (graph.manifests.some((m) => m.desc.digest === a.subject.digest)) {
        const node = a.graph.manifests[a.graph.manifests.length - 1]!;
        log.warn(`${where}: the artifact ${node.desc.digest} (${artifactTypeOf(node) ?? 'no artifactType'}) is not pushed: ` +
          'the registry refuses OCI manifests, and an artifact has no Docker schema 2 form');
      }
      continue;
    }
    await pushBlobs(a.graph.blobs);
    const node = a.graph.manifests[a.graph.manifests.length - 1]!;
    for (const m of a.graph.manifests) {
      const res = await putManifest(client, repo, m, m.desc.digest);
      if (m !== node) continue;
      const artifactType = artifactTypeOf(node);
      // The spec: a registry with the referrers API says so with OCI-Subject; else the client keeps the tag index.
      if (res.headers['oci-subject']) referrers.push({ digest: node.desc.digest, artifactType, via: 'referrers-api' });
      else {
        await addToReferrersTag(client, repo, a.subject.digest, { ...node.desc, artifactType, annotations: annotationsOf(node) });
        referrers.push({ digest: node.desc.digest, artifactType, via: 'referrers-tag' });
      }
    }
  }

  for (const tag of g.tags) await putManifest(client, repo, root, tag);
  log.info(`${where}: pushed ${root.desc.digest}${g.tags.length ? ` as ${g.tags.join(', ')}` : ''} ` +
    `(blobs: ${blobs.uploaded} uploaded, ${blobs.mounted} mounted, ${blobs.existing} already there)`);
  return { refs: g.texts, registry: g.ref.registry, repository: repo, digest: root.desc.digest, mediaType: root.desc.mediaType, blobs, referrers };
}

class OciRefusedError extends Error {}

async function putManifest(client: RegistryClient, repo: string, node: ManifestNode, reference: string) {
  const res = await client.request(repo, [pushScope(repo)], {
    method: 'PUT', url: `/v2/${repo}/manifests/${reference}`,
    headers: { 'content-type': node.desc.mediaType, 'content-length': String(node.bytes.length) },
    body: () => node.bytes,
  });
  if (res.status === 201) {
    const digest = res.headers['docker-content-digest'];
    if (typeof digest === 'string' && digest !== node.desc.digest) {
      throw new RegistryError(client.registry, repo, res.status, `manifest ${reference}: the registry stored ${digest}, not ${node.desc.digest}`);
    }
    return res;
  }
  const text = res.body.toString('utf8');
  if ((res.status === 400 || res.status === 415) && (node.desc.mediaType === MEDIA_OCI_MANIFEST || node.desc.mediaType === MEDIA_OCI_INDEX)
      && /MANIFEST_INVALID|unsupported|media ?type/i.test(text)) {
    throw new OciRefusedError(text);
  }
  throw client.fail(repo, res, `PUT manifest ${reference}`);
}

function artifactTypeOf(node: ManifestNode): string | undefined {
  const json = JSON.parse(node.bytes.toString('utf8')) as { artifactType?: string; config?: Descriptor };
  return json.artifactType ?? json.config?.mediaType;
}

function annotationsOf(node: ManifestNode): Record<string, string> | undefined {
  return (JSON.parse(node.bytes.toString('utf8')) as { annotations?: Record<string, string> }).annotations;
}

/** The referrers tag schema (distribution spec v1.1, for registries without the API): an index at tag sha256-<hex>. */
async function addToReferrersTag(client: RegistryClient, repo: string, subject: string, desc: Descriptor): Promise<void> {
  const tag = subject.replace(':', '-');
  const res = await client.request(repo, [pushScope(repo)], {
    method: 'GET', url: `/v2/${repo}/manifests/${tag}`, headers: { accept: MEDIA_OCI_INDEX },
  });
  let index: ImageIndex = { schemaVersion: 2, mediaType: MEDIA_OCI_INDEX, manifests: [] };
  if (res.status === 200) index = JSON.parse(res.body.toString('utf8')) as ImageIndex;
  else if (res.status !== 404) throw client.fail(repo, res, `GET referrers tag ${tag}`);
  if (index.manifests.some((d) => d.digest === desc.digest)) return;
  index.manifests.push(desc);
  const bytes = Buffer.from(JSON.stringify(index));
  const put = await client.request(repo, [pushScope(repo)], {
    method: 'PUT', url: `/v2/${repo}/manifests/${tag}`,
    headers: { 'content-type': MEDIA_OCI_INDEX, 'content-length': String(bytes.length) },
    body: () => bytes,
  });
  if (put.status !== 201) throw client.fail(repo, put, `PUT referrers tag ${tag}`);
}
