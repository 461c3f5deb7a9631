import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { layoutFromBuild } from '../../src/outputs/oci/layout.js';
import { pushLayout } from '../../src/outputs/registry/push.js';
import { requireTool, runDbco, tempDir } from '../helpers/env.js';
import { OCI_REFUSALS, startOci11Proxy, type Oci11Proxy, type Oci11ProxyOptions } from '../helpers/oci11-proxy.js';
import { portIn, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { multiArchMirror, writeMultiRecipe } from '../multiarch/fixtures.js';
import { sbomRecipe } from '../sbom/fixture.js';
import { pushRecipe } from './fixture.js';
import { randomImage } from './image-fixture.js';

const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const run = async (cmd: string, args: string[]): Promise<string> => (await promisify(execFile)(cmd, args)).stdout;
const ACCEPT_ALL = [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, 'application/vnd.docker.distribution.manifest.list.v2+json'].join(', ');

/**
 * The two registry behaviours distribution 2.8 lacks, added by a proxy in front of it (test/helpers/oci11-proxy.ts):
 * the referrers API of distribution spec 1.1, and the refusal of OCI manifests by a schema-2-only registry.
 */
describe('referrers API and the Docker schema 2 fallback', () => {
  const tmp = tempDir('dbco-oci11-');
  let reg: TestRegistry;
  let withReferrers: Oci11Proxy;
  let schema2Only: Oci11Proxy;
  const s2opts: Oci11ProxyOptions = { refuseOci: OCI_REFUSALS.distribution };
  let env: NodeJS.ProcessEnv;
  const pulled: string[] = [];
  /** Straight to the registry, past the proxy. */
  const upstream = (p: string, accept = ACCEPT_ALL, method = 'GET'): Promise<Response> => fetch(`http://${reg.host}${p}`, { method, headers: { accept } });

  beforeAll(async () => {
    reg = await startRegistry({ dir: path.join(tmp.dir, 'registry'), port: await portIn(5730, 5759) });
    withReferrers = await startOci11Proxy(reg.host, { referrers: true, port: await portIn(5760, 5779) });
    // The proxy reads these options per request: the tests below change the refusal.
    s2opts.port = await portIn(5780, 5799);
    schema2Only = await startOci11Proxy(reg.host, s2opts);
    env = {
      DBCO_CACHE: path.join(tmp.dir, 'cache'), DOCKER_CONFIG: path.join(tmp.dir, 'docker-config'), DBCO_CERTS_DIRS: '',
      XDG_RUNTIME_DIR: path.join(tmp.dir, 'xdg'), REGISTRY_AUTH_FILE: '', SOURCE_DATE_EPOCH: '1700000000',
    };
  }, 60_000);

  afterAll(async () => {
    await withReferrers?.close();
    await schema2Only?.close();
    await reg?.stop();
    for (const ref of pulled) {
      try { execFileSync('docker', ['rmi', ref], { stdio: 'pipe' }); } catch { /* not pulled */ }
    }
    tmp.cleanup();
  });

  test('a registry with the referrers API: the SBOM is found through it, and no sha256-<hex> tag is written', async () => {
    const recipe = sbomRecipe(path.join(tmp.dir, 'sbom-recipe'), 'oci11sbom', '17.0', ['curl'], 'dbco-oci11-test:1');
    const file = path.join(tmp.dir, 'oci11.cdx.json');
    const ref = `${withReferrers.host}/refs/curl:1`;
    const r = await runDbco(['image', recipe, '--push', ref, '--sbom', file, '--json'], { env });
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { sbom: { artifactDigest: string }[]; pushed: { digest: string; referrers: { digest: string; artifactType?: string; via: string }[] }[] };
    const [pushed] = out.pushed;
    const artifact = out.sbom[0]!.artifactDigest;
    expect(pushed!.referrers).toEqual([{ digest: artifact, artifactType: 'application/vnd.cyclonedx+json', via: 'referrers-api' }]);

    // No referrers tag, in the registry itself: only the image's own tag.
    expect((await upstream(`/v2/refs/curl/manifests/${pushed!.digest.replace(':', '-')}`, OCI_INDEX)).status).toBe(404);
    expect(((await (await upstream('/v2/refs/curl/tags/list')).json()) as { tags: string[] }).tags).toEqual(['1']);
    // Nor did dbco ask for one: a 1.1 client trusts OCI-Subject.
    expect(withReferrers.log.filter((l) => l.path.includes('/manifests/sha256-'))).toEqual([]);

    const list = await fetch(`http://${withReferrers.host}/v2/refs/curl/referrers/${pushed!.digest}?artifactType=${encodeURIComponent('application/vnd.cyclonedx+json')}`);
    expect(list.headers.get('oci-filters-applied')).toBe('artifactType');
    const index = (await list.json()) as { manifests: { digest: string; mediaType: string; artifactType: string }[] };
    expect(index.manifests).toEqual([expect.objectContaining({ digest: artifact, mediaType: OCI_MANIFEST, artifactType: 'application/vnd.cyclonedx+json' })]);
    // The artifact is stored in the registry, its subject the pushed manifest, its layer the --sbom file.
    const art = (await (await upstream(`/v2/refs/curl/manifests/${artifact}`, OCI_MANIFEST)).json()) as { subject: { digest: string }; layers: { digest: string }[] };
    expect(art.subject.digest).toBe(pushed!.digest);
    const layer = Buffer.from(await (await upstream(`/v2/refs/curl/blobs/${art.layers[0]!.digest}`, '*/*')).arrayBuffer());
    expect(layer.equals(readFileSync(file))).toBe(true);

    // Pushed again: the same one referrer, still through the API.
    const again = await runDbco(['image', recipe, '--push', ref, '--sbom', file, '--json'], { env });
    expect(again.code, again.stderr).toBe(0);
    expect((JSON.parse(again.stdout) as typeof out).pushed[0]!.referrers).toEqual(pushed!.referrers);
    const index2 = (await (await fetch(`http://${withReferrers.host}/v2/refs/curl/referrers/${pushed!.digest}`)).json()) as { manifests: unknown[] };
    expect(index2.manifests).toHaveLength(1);
  }, 180_000);

  for (const [name, refusal] of Object.entries(OCI_REFUSALS)) {
    test(`a registry that refuses OCI manifests (${name}: ${refusal.status}): Docker schema 2 is pushed, and the digest returned is the one stored`, async () => {
      s2opts.refuseOci = refusal;
      const image = layoutFromBuild(randomImage(path.join(tmp.dir, `s2-${name}`), [2000, 30_000]));
      const warnings: string[] = [];
      const [r] = await pushLayout(image, [`${schema2Only.host}/s2/${name.toLowerCase()}:1`], {
        cache: path.join(tmp.dir, 'lib-cache'), env: { DBCO_CERTS_DIRS: '', DOCKER_CONFIG: path.join(tmp.dir, 'none') },
        log: { info() {}, warn: (m: string) => warnings.push(m) },
      });
      expect(r!.mediaType).toBe(DOCKER_MANIFEST);
      expect(r!.digest).not.toBe(image.index.manifests[0]!.digest);
      expect(warnings.join('\n')).toMatch(/refuses OCI manifests; pushing Docker schema 2/);
      const refused = schema2Only.log.filter((l) => l.method === 'PUT' && l.path === `/v2/s2/${name.toLowerCase()}/manifests/${image.index.manifests[0]!.digest}`);
      expect(refused.map((l) => l.status)).toEqual([refusal.status]);
      const stored = await upstream(`/v2/s2/${name.toLowerCase()}/manifests/1`);
      expect(stored.headers.get('content-type')).toBe(DOCKER_MANIFEST);
      expect(stored.headers.get('docker-content-digest')).toBe(r!.digest);
      const json = (await stored.json()) as { config: { mediaType: string; digest: string }; layers: { mediaType: string }[] };
      expect(json.config.mediaType).toBe('application/vnd.docker.container.image.v1+json');
      expect(json.layers.map((l) => l.mediaType)).toEqual(['application/vnd.docker.image.rootfs.diff.tar', 'application/vnd.docker.image.rootfs.diff.tar']);
    }, 60_000);
  }

  test('a schema-2-only registry: dbco image --push --sbom falls back (the SBOM is left out, and says so), dockerd pulls the printed digest and runs it', async () => {
    requireTool('docker');
    s2opts.refuseOci = OCI_REFUSALS.distribution;
    const recipe = pushRecipe(path.join(tmp.dir, 'push-recipe'), 'oci11schema2', 'hello from a schema 2 push');
    const ref = `${schema2Only.host}/s2/demo:1`;
    const r = await runDbco(['image', recipe, '--push', ref, '--sbom', path.join(tmp.dir, 'schema2.cdx.json'), '--json'], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('refuses OCI manifests; pushing Docker schema 2 manifests instead');
    const out = JSON.parse(r.stdout) as {
      id: string; manifestDigest: string; sbom: { artifactDigest?: string }[]; pushed: { digest: string; mediaType: string; referrers: unknown[] }[];
    };
    const { digest, mediaType } = out.pushed[0]!;
    expect(mediaType).toBe(DOCKER_MANIFEST);
    // The SBOM artifact has no schema 2 form: said on stderr, and --json claims no artifact digest.
    expect(r.stderr).toMatch(/the artifact sha256:[0-9a-f]{64} \(application\/vnd\.cyclonedx\+json\) is not pushed: the registry refuses OCI manifests/);
    expect(out.pushed[0]!.referrers).toEqual([]);
    expect(out.sbom[0]!.artifactDigest).toBeUndefined();
    expect(digest).not.toBe(out.manifestDigest);
    expect((await upstream('/v2/s2/demo/manifests/1', ACCEPT_ALL, 'HEAD')).headers.get('docker-content-digest')).toBe(digest);

    // 127.0.0.0/8 is an insecure registry for dockerd by default: it pulls through the proxy over http
    // (asynchronously: the proxy lives in this process).
    const byDigest = `${schema2Only.host}/s2/demo@${digest}`;
    pulled.push(byDigest);
    await run('docker', ['pull', '-q', byDigest]);
    expect(JSON.parse(await run('docker', ['image', 'inspect', '-f', '{{json .RepoDigests}}', byDigest]))).toContain(byDigest);
    // The config blob is unchanged by the fallback, so the image id is the built one's.
    expect((await run('docker', ['image', 'inspect', '-f', '{{.Id}}', byDigest])).trim()).toBe(out.id);
    expect(await run('docker', ['run', '--rm', byDigest])).toBe('hello from a schema 2 push\n');
  }, 180_000);

  describe('a multi-arch index (arch: [x86, x86_64]) with --sbom', () => {
    let recipe: string;
    const cdx = 'application/vnd.cyclonedx+json';
    type Out = { manifestDigest: string; sbom: { platform: string; artifactDigest?: string }[]; pushed: { digest: string; mediaType: string; referrers: { digest: string; artifactType?: string; via: string }[] }[] };

    beforeAll(() => {
      const dir = path.join(tmp.dir, 'multi');
      recipe = writeMultiRecipe(path.join(tmp.dir), 'oci11multi', multiArchMirror(dir), 'dbco-oci11multi-test:1');
    });

    test('to the referrers API: each platform manifest lists its own SBOM; no referrers tag', async () => {
      const r = await runDbco(['image', recipe, '--push', `${withReferrers.host}/refs/multi:1`, '--sbom', path.join(tmp.dir, 'multi.cdx.json'), '--json'], { env });
      expect(r.code, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout) as Out;
      const [pushed] = out.pushed;
      expect(pushed!.mediaType).toBe(OCI_INDEX);
      expect(pushed!.digest).toBe(out.manifestDigest);
      expect(out.sbom.map((s) => s.platform)).toEqual(['linux/386', 'linux/amd64']);
      expect(pushed!.referrers).toEqual(out.sbom.map((s) => ({ digest: s.artifactDigest, artifactType: cdx, via: 'referrers-api' })));

      const stored = await upstream('/v2/refs/multi/manifests/1', OCI_INDEX);
      expect(stored.headers.get('docker-content-digest')).toBe(pushed!.digest);
      const platforms = ((await stored.json()) as { manifests: { digest: string; platform: { architecture: string } }[] }).manifests;
      expect(platforms.map((p) => p.platform.architecture)).toEqual(['386', 'amd64']);
      for (const [i, p] of platforms.entries()) {
        const index = (await (await fetch(`http://${withReferrers.host}/v2/refs/multi/referrers/${p.digest}`)).json()) as { manifests: { digest: string; artifactType: string }[] };
        expect(index.manifests).toEqual([expect.objectContaining({ digest: out.sbom[i]!.artifactDigest, artifactType: cdx })]);
      }
      // Nothing refers to the index itself, and no sha256-<hex> tag was written for any subject.
      expect(((await (await fetch(`http://${withReferrers.host}/v2/refs/multi/referrers/${pushed!.digest}`)).json()) as { manifests: unknown[] }).manifests).toEqual([]);
      expect(((await (await upstream('/v2/refs/multi/tags/list')).json()) as { tags: string[] }).tags).toEqual(['1']);
    }, 240_000);

    test('to a schema-2-only registry: a Docker manifest list of the two platforms, both SBOMs left out with a warning each', async () => {
      s2opts.refuseOci = OCI_REFUSALS.distribution;
      const r = await runDbco(['image', recipe, '--push', `${schema2Only.host}/s2/multi:1`, '--sbom', path.join(tmp.dir, 'multi-s2.cdx.json'), '--json'], { env });
      expect(r.code, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout) as Out;
      const [pushed] = out.pushed;
      expect(pushed!.mediaType).toBe(DOCKER_LIST);
      expect(pushed!.referrers).toEqual([]);
      expect(out.sbom.every((s) => s.artifactDigest === undefined)).toBe(true);
      expect(r.stderr.match(/the artifact sha256:\S+ \(application\/vnd\.cyclonedx\+json\) is not pushed/g)).toHaveLength(2);
      const stored = await upstream('/v2/s2/multi/manifests/1');
      expect(stored.headers.get('content-type')).toBe(DOCKER_LIST);
      expect(stored.headers.get('docker-content-digest')).toBe(pushed!.digest);
      const list = ((await stored.json()) as { manifests: { digest: string; mediaType: string; platform: { architecture: string } }[] }).manifests;
      expect(list.map((m) => [m.mediaType, m.platform.architecture])).toEqual([[DOCKER_MANIFEST, '386'], [DOCKER_MANIFEST, 'amd64']]);
      for (const m of list) expect((await upstream(`/v2/s2/multi/manifests/${m.digest}`, DOCKER_MANIFEST, 'HEAD')).status).toBe(200);
    }, 240_000);
  });
});
