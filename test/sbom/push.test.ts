import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runDbco, tempDir } from '../helpers/env.js';
import { portIn, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { sbomRecipe } from './fixture.js';

const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

/**
 * --push with --sbom to Debian's docker-registry (distribution 2.8: no referrers API): the SBOM goes
 * up as an artifact and is found through the referrers tag sha256-<manifest hex>.
 */
describe('dbco image --push --sbom to distribution 2.8', () => {
  const tmp = tempDir('dbco-sbom-push-');
  let reg: TestRegistry;
  let recipe: string;
  let env: NodeJS.ProcessEnv;
  const get = async (p: string, accept: string): Promise<Response> => fetch(`http://${reg.host}${p}`, { headers: { accept } });

  beforeAll(async () => {
    reg = await startRegistry({ dir: path.join(tmp.dir, 'registry'), port: await portIn(5600, 5699) });
    recipe = sbomRecipe(path.join(tmp.dir, 'r'), 'sbompush', '17.0', ['curl'], 'dbco-sbompush-test:1');
    env = {
      DBCO_CACHE: path.join(tmp.dir, 'cache'), DOCKER_CONFIG: path.join(tmp.dir, 'docker-config'),
      XDG_RUNTIME_DIR: path.join(tmp.dir, 'xdg'), REGISTRY_AUTH_FILE: '', SOURCE_DATE_EPOCH: '1700000000',
    };
  }, 60_000);
  afterAll(async () => {
    await reg?.stop();
    tmp.cleanup();
  });

  test('the referrers tag sha256-<hex> names the SBOM artifact, whose subject is the pushed manifest and whose layer is the --sbom file', async () => {
    const file = path.join(tmp.dir, 'push.cdx.json');
    const r = await runDbco(['image', recipe, '--push', `${reg.host}/sbom/curl:1`, '--sbom', file, '--json'], { env });
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as {
      manifestDigest: string; sbom: { artifactDigest: string }[];
      pushed: { digest: string; referrers: { digest: string; artifactType?: string; via: string }[] }[];
    };
    const [pushed] = out.pushed;
    expect(pushed!.digest).toBe(out.manifestDigest);
    expect(pushed!.referrers).toEqual([{ digest: out.sbom[0]!.artifactDigest, artifactType: 'application/vnd.cyclonedx+json', via: 'referrers-tag' }]);

    const tag = await get(`/v2/sbom/curl/manifests/${pushed!.digest.replace(':', '-')}`, OCI_INDEX);
    expect(tag.status).toBe(200);
    const index = await tag.json() as { manifests: { digest: string; artifactType?: string; mediaType: string }[] };
    expect(index.manifests).toEqual([expect.objectContaining({ digest: out.sbom[0]!.artifactDigest, artifactType: 'application/vnd.cyclonedx+json', mediaType: OCI_MANIFEST })]);

    const art = await (await get(`/v2/sbom/curl/manifests/${out.sbom[0]!.artifactDigest}`, OCI_MANIFEST)).json() as { subject: { digest: string }; layers: { digest: string }[] };
    expect(art.subject.digest).toBe(pushed!.digest);
    const layer = Buffer.from(await (await get(`/v2/sbom/curl/blobs/${art.layers[0]!.digest}`, '*/*')).arrayBuffer());
    expect(layer.equals(readFileSync(file))).toBe(true);

    // Pushed again: nothing new, the referrers tag still names the one SBOM.
    const again = await runDbco(['image', recipe, '--push', `${reg.host}/sbom/curl:1`, '--sbom', file, '--json'], { env });
    expect(again.code, again.stderr).toBe(0);
    const index2 = await (await get(`/v2/sbom/curl/manifests/${pushed!.digest.replace(':', '-')}`, OCI_INDEX)).json() as { manifests: unknown[] };
    expect(index2.manifests).toHaveLength(1);
  }, 120_000);

  test('dbco push of an archive written with --output --sbom pushes the same image and its SBOM the same way', async () => {
    const archive = path.join(tmp.dir, 'img.tar');
    const file = path.join(tmp.dir, 'archive.cdx.json');
    const built = await runDbco(['image', recipe, '--docker', '--output', archive, '--sbom', file, '--json', '-q'], { env });
    expect(built.code, built.stderr).toBe(0);
    const b = JSON.parse(built.stdout) as { manifestDigest: string; sbom: { artifactDigest: string }[] };
    const r = await runDbco(['push', archive, `${reg.host}/sbom/fromarchive:1`, '--json'], { env });
    expect(r.code, r.stderr).toBe(0);
    const { pushed: [pushed] } = JSON.parse(r.stdout) as { pushed: { digest: string; referrers: { digest: string; via: string }[] }[] };
    expect(pushed!.digest).toBe(b.manifestDigest);
    expect(pushed!.referrers).toEqual([expect.objectContaining({ digest: b.sbom[0]!.artifactDigest, via: 'referrers-tag' })]);
    const index = await (await get(`/v2/sbom/fromarchive/manifests/${b.manifestDigest.replace(':', '-')}`, OCI_INDEX)).json() as { manifests: { digest: string }[] };
    expect(index.manifests.map((m) => m.digest)).toEqual([b.sbom[0]!.artifactDigest]);
  }, 120_000);
});
