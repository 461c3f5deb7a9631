import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { canonicalJson, sha256Hex } from '../../src/canonical-json.js';
import { RegistryError } from '../../src/errors.js';
import { layoutFromBuild, openLayout } from '../../src/outputs/oci/layout.js';
import { pushLayout, type PushOptions } from '../../src/outputs/registry/push.js';
import { tempDir } from '../helpers/env.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { startRegistryProxy, type ProxyAction, type RegistryProxy } from '../helpers/registry-proxy.js';
import { randomImage } from './image-fixture.js';

/** Faults on the wire, through a proxy in front of a plain-http distribution 2.8 on the loopback. */
describe('push faults and protocol paths', () => {
  const tmp = tempDir('dbco-push-faults-');
  let reg: TestRegistry;
  let proxy: RegistryProxy;
  let decide: (req: { method?: string; url?: string }) => ProxyAction = () => undefined;
  const opts = (): PushOptions => ({ cache: path.join(tmp.dir, 'cache'), retries: 2, backoffMs: 20, env: { DOCKER_CONFIG: path.join(tmp.dir, 'none'), DBCO_CERTS_DIRS: '' } });

  beforeAll(async () => {
    reg = await startRegistry({ dir: path.join(tmp.dir, 'registry') });
    proxy = await startRegistryProxy(reg.host, (req) => decide(req));
  }, 60_000);

  afterAll(async () => {
    await proxy?.close();
    await reg?.stop();
    tmp.cleanup();
  });

  const getJson = async (url: string, accept = 'application/vnd.oci.image.index.v1+json'): Promise<{ status: number; json: any }> => {
    const res = await fetch(`http://${reg.host}${url}`, { headers: { accept } });
    return { status: res.status, json: res.status === 200 ? await res.json() : undefined };
  };

  test('a 500 on one blob upload is retried and the push succeeds', async () => {
    const image = randomImage(path.join(tmp.dir, 'a'), [5000, 200_000]);
    const target = image.layers[1]!.diffId;
    let injected = 0;
    decide = (req) => (req.method === 'PUT' && req.url?.includes(encodeURIComponent(target)) && injected++ === 0 ? { status: 500 } : undefined);
    const [r] = await pushLayout(layoutFromBuild(image), [`${proxy.host}/faults/five:1`], opts());
    expect(injected).toBeGreaterThan(1);
    expect(r!.blobs.uploaded).toBe(3);
    const puts = proxy.log.filter((l) => l.method === 'PUT' && l.path.includes(encodeURIComponent(target)));
    expect(puts.map((p) => p.status)).toEqual([500, 201]);
    expect((await getJson('/v2/faults/five/manifests/1', 'application/vnd.oci.image.manifest.v1+json')).status).toBe(200);
  }, 60_000);

  test('registry killed mid-upload: a clear error, no tag; the rerun succeeds', async () => {
    const image = randomImage(path.join(tmp.dir, 'b'), [4000, 8 << 20]);
    const big = image.layers[1]!.diffId;
    decide = (req) => (req.method === 'PUT' && req.url?.includes(encodeURIComponent(big))
      ? { afterBytes: 1 << 20, midBody: () => reg.kill('SIGKILL') } : undefined);
    const err = await pushLayout(layoutFromBuild(image), [`${proxy.host}/faults/killed:1`], opts()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect((err as Error).message).toContain(`${proxy.host}`);
    decide = () => undefined;
    await reg.restart();
    // Nothing tagged in between: the tag is PUT last, after every blob and manifest.
    expect((await getJson('/v2/faults/killed/manifests/1', 'application/vnd.oci.image.manifest.v1+json')).status).toBe(404);
    const [r] = await pushLayout(layoutFromBuild(image), [`${proxy.host}/faults/killed:1`], opts());
    expect((await getJson('/v2/faults/killed/manifests/1', 'application/vnd.oci.image.manifest.v1+json')).status).toBe(200);
    expect(r!.digest).toMatch(/^sha256:/);
  }, 90_000);

  test('a blob that fails: the push returns only when no other request of it is on the wire', async () => {
    const image = randomImage(path.join(tmp.dir, 'e'), [1000, 2000, 3000]);
    const [bad, held] = [image.layers[0]!.diffId, image.layers[1]!.diffId];
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    // One blob's HEAD is refused (403: not retried) while another's is held a moment longer.
    decide = (req) => {
      if (req.method === 'HEAD' && req.url?.endsWith(bad)) {
        setTimeout(release, 300);
        return { status: 403 };
      }
      return req.method === 'HEAD' && req.url?.endsWith(held) ? { holdUntil: gate } : undefined;
    };
    const before = proxy.log.length;
    const err = await pushLayout(layoutFromBuild(image), [`${proxy.host}/faults/stray:1`], opts()).catch((e: unknown) => e);
    expect((err as Error).message).toContain('HTTP 403');
    // Before, the other workers went on (token fetches, uploads) after the push had already failed.
    expect(proxy.log.slice(before).filter((l) => l.status === 0)).toEqual([]);
    // Nor does any arrive after it returned (a quiet moment; this can only miss a stray, not invent one).
    const after = proxy.log.length;
    release();
    await new Promise((r) => setTimeout(r, 500));
    expect(proxy.log.slice(after)).toEqual([]);
    decide = () => undefined;
  }, 60_000);

  test('chunked upload: PATCH ranges streamed from the file, then the closing PUT', async () => {
    const image = randomImage(path.join(tmp.dir, 'c'), [3 << 20]);
    decide = () => undefined;
    const before = proxy.log.length;
    const [r] = await pushLayout(layoutFromBuild(image), [`${proxy.host}/faults/chunked:1`], { ...opts(), chunkSize: 1 << 20 });
    expect(r!.blobs.uploaded).toBe(2);
    const patches = proxy.log.slice(before).filter((l) => l.method === 'PATCH');
    expect(patches.map((p) => p.status)).toEqual([202, 202, 202]);
    const head = await fetch(`http://${reg.host}/v2/faults/chunked/blobs/${image.layers[0]!.diffId}`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(3 << 20));
  }, 60_000);

  test('an artifact with a subject goes through the referrers tag (distribution 2.8 has no referrers API)', async () => {
    decide = () => undefined;
    const image = randomImage(path.join(tmp.dir, 'd'), [1000]);
    // An OCI layout folder: the image plus an SBOM-like artifact whose subject is the image manifest.
    const dir = path.join(tmp.dir, 'layout-with-artifact');
    mkdirSync(path.join(dir, 'blobs/sha256'), { recursive: true });
    const put = (bytes: Buffer): { digest: string; size: number } => {
      const hex = sha256Hex(bytes);
      writeFileSync(path.join(dir, 'blobs/sha256', hex), bytes);
      return { digest: `sha256:${hex}`, size: bytes.length };
    };
    const fromBuild = layoutFromBuild(image);
    const imageDesc = fromBuild.index.manifests[0]!;
    for (const b of [image.config.id, image.layers[0]!.diffId, imageDesc.digest]) {
      const chunks: Buffer[] = [];
      for await (const c of fromBuild.open(b)) chunks.push(Buffer.from(c));
      put(Buffer.concat(chunks));
    }
    const empty = put(Buffer.from('{}'));
    const sbom = put(Buffer.from('{"bomFormat":"CycloneDX","specVersion":"1.6"}'));
    const artifact = Buffer.from(canonicalJson({
      schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', artifactType: 'application/vnd.cyclonedx+json',
      config: { mediaType: 'application/vnd.oci.empty.v1+json', ...empty },
      layers: [{ mediaType: 'application/vnd.cyclonedx+json', ...sbom }],
      subject: { mediaType: imageDesc.mediaType, digest: imageDesc.digest, size: imageDesc.size },
    }));
    const artifactDesc = { mediaType: 'application/vnd.oci.image.manifest.v1+json', ...put(artifact) };
    writeFileSync(path.join(dir, 'index.json'), canonicalJson({ schemaVersion: 2, manifests: [{ ...imageDesc, annotations: undefined }, artifactDesc] }));
    writeFileSync(path.join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');

    const [r] = await pushLayout(await openLayout(dir), [`${proxy.host}/faults/sbom:1`], opts());
    expect(r!.digest).toBe(imageDesc.digest);
    expect(r!.referrers).toEqual([{ digest: artifactDesc.digest, artifactType: 'application/vnd.cyclonedx+json', via: 'referrers-tag' }]);
    const tag = await getJson(`/v2/faults/sbom/manifests/${imageDesc.digest.replace(':', '-')}`);
    expect(tag.status).toBe(200);
    expect(tag.json.manifests).toEqual([expect.objectContaining({ digest: artifactDesc.digest, artifactType: 'application/vnd.cyclonedx+json' })]);
    // Pushed again: the referrers index keeps one entry.
    await pushLayout(await openLayout(dir), [`${proxy.host}/faults/sbom:1`], opts());
    expect((await getJson(`/v2/faults/sbom/manifests/${imageDesc.digest.replace(':', '-')}`)).json.manifests).toHaveLength(1);
  }, 60_000);
});
