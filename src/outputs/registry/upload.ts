import { RegistryError } from '../../errors.js';
import type { Descriptor, OciLayout } from '../oci/layout.js';
import { pullScope, pushScope, type RegistryClient } from './client.js';
import type { HttpResponse } from './http.js';

export type BlobOutcome = 'existing' | 'mounted' | 'uploaded';

export interface UploadOptions {
  /** Other repositories of the same registry that hold the blob (dbco pushed it there). */
  mountFrom?: string[];
  /** Upload in PATCH chunks of this many bytes when the blob is larger; else one PUT. */
  chunkSize?: number;
  /** Whole-blob tries (a broken upload session starts over from HEAD). */
  tries?: number;
}

/** Blob uploads are streamed; the session URL may be relative to the registry (spec: Location). */
function locationOf(client: RegistryClient, res: HttpResponse, repository: string): URL {
  const loc = res.headers.location;
  if (!loc) throw new RegistryError(client.registry, repository, res.status, 'upload session without a Location header');
  return new URL(loc, res.url);
}

/** Takes `size` bytes off a shared iterator: one PATCH body of a chunked upload. */
async function* take(it: AsyncIterator<Uint8Array>, carry: { rest?: Uint8Array }, size: number): AsyncIterable<Uint8Array> {
  let left = size;
  while (left > 0) {
    let chunk = carry.rest;
    carry.rest = undefined;
    if (!chunk) {
      const next = await it.next();
      if (next.done) return;
      chunk = next.value;
    }
    if (chunk.length > left) {
      carry.rest = chunk.subarray(left);
      chunk = chunk.subarray(0, left);
    }
    left -= chunk.length;
    yield chunk;
  }
}

function once<T>(make: () => T): () => T {
  let used = false;
  return () => {
    if (used) throw new Error('a chunk body cannot be sent twice');
    used = true;
    return make();
  };
}

/**
 * Pushes one blob the cheapest way the spec allows: nothing when HEAD finds it, a cross-repository
 * mount when another repository of the registry has it, else an upload streamed from the layout's
 * file (one PUT, or PATCH chunks then PUT). The registry verifies the digest before it keeps it.
 */
export async function pushBlob(client: RegistryClient, repository: string, desc: Descriptor, layout: OciLayout, opts: UploadOptions = {}): Promise<BlobOutcome> {
  const scopes = [pushScope(repository)];
  const base = `/v2/${repository}/blobs`;
  const tries = opts.tries ?? 3;
  for (let attempt = 1; ; attempt++) {
    const head = await client.request(repository, scopes, { method: 'HEAD', url: `${base}/${desc.digest}` });
    if (head.status === 200) return 'existing';
    if (head.status !== 404) throw client.fail(repository, head, `HEAD blob ${desc.digest}`);

    let session: HttpResponse | undefined;
    for (const from of opts.mountFrom ?? []) {
      const res = await client.request(repository, [...scopes, pullScope(from)], {
        method: 'POST', url: `${base}/uploads/?mount=${encodeURIComponent(desc.digest)}&from=${encodeURIComponent(from)}`,
        headers: { 'content-length': '0' },
      });
      if (res.status === 201) return 'mounted';
      // 202: the registry could not mount and opened an upload session instead (spec: fall back to it).
      if (res.status === 202) {
        session = res;
        break;
      }
    }
    try {
      session ??= await client.request(repository, scopes, { method: 'POST', url: `${base}/uploads/`, headers: { 'content-length': '0' } });
      if (session.status !== 202) throw client.fail(repository, session, `starting the upload of ${desc.digest}`);
      await upload(client, repository, desc, layout, locationOf(client, session, repository), opts.chunkSize);
      return 'uploaded';
    } catch (err) {
      const retryable = err instanceof RegistryError && (err.status === undefined || err.status >= 500 || err.status === 404);
      if (!retryable || attempt >= tries) throw err;
    }
  }
}

async function upload(client: RegistryClient, repository: string, desc: Descriptor, layout: OciLayout, location: URL, chunkSize?: number): Promise<void> {
  const scopes = [pushScope(repository)];
  const octets = { 'content-type': 'application/octet-stream' };
  if (chunkSize && desc.size > chunkSize) {
    const it = layout.open(desc.digest)[Symbol.asyncIterator]();
    const carry: { rest?: Uint8Array } = {};
    for (let start = 0; start < desc.size; start += chunkSize) {
      const len = Math.min(chunkSize, desc.size - start);
      const res = await client.request(repository, scopes, {
        method: 'PATCH', url: location.toString(),
        headers: { ...octets, 'content-length': String(len), 'content-range': `${start}-${start + len - 1}` },
        body: once(() => take(it, carry, len)),
      });
      if (res.status !== 202) throw client.fail(repository, res, `uploading ${desc.digest} (bytes ${start}-${start + len - 1})`);
      location = locationOf(client, res, repository);
    }
    location.searchParams.set('digest', desc.digest);
    const res = await client.request(repository, scopes, { method: 'PUT', url: location.toString(), headers: { ...octets, 'content-length': '0' } });
    if (res.status !== 201) throw client.fail(repository, res, `closing the upload of ${desc.digest}`);
    return;
  }
  location.searchParams.set('digest', desc.digest);
  const res = await client.request(repository, scopes, {
    method: 'PUT', url: location.toString(),
    headers: { ...octets, 'content-length': String(desc.size) },
    body: () => layout.open(desc.digest),
  });
  if (res.status !== 201) throw client.fail(repository, res, `uploading ${desc.digest} (${desc.size} bytes)`);
}
