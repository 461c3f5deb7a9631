import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { RegistryError } from '../../src/errors.js';
import { layoutFromBuild, type OciLayout } from '../../src/outputs/oci/layout.js';
import { pushLayout, type PushOptions } from '../../src/outputs/registry/push.js';
import { login } from '../../src/outputs/registry/login.js';
import { requireTool, tempDir } from '../helpers/env.js';
import { mountsDone, startRegistry, uploadsStarted, type TestRegistry } from '../helpers/registry.js';
import { startTokenServer, type TokenServer } from '../helpers/token-server.js';
import { randomImage } from './image-fixture.js';

/**
 * The bearer-token flow against distribution 2.8 configured for token auth: the registry answers 401
 * with realm/service/scope, dbco asks the token server (a test fixture signing real JWTs the registry
 * verifies), caches the token per scope, and fetches a new one when the registry refuses it.
 */
describe('push with token auth', () => {
  const tmp = tempDir('dbco-push-token-');
  let reg: TestRegistry;
  let tokens: TokenServer;
  const configDir = (name: string, auths: Record<string, unknown>): string => {
    const dir = path.join(tmp.dir, name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ auths }));
    return dir;
  };
  const basic = (u: string, p: string) => ({ auth: Buffer.from(`${u}:${p}`).toString('base64') });
  const opts = (dockerConfig: string, extra: NodeJS.ProcessEnv = {}): PushOptions => ({
    cache: path.join(tmp.dir, 'cache'), retries: 1, backoffMs: 20,
    env: { DOCKER_CONFIG: dockerConfig, DBCO_CERTS_DIRS: '', XDG_RUNTIME_DIR: path.join(tmp.dir, 'xdg'), ...extra },
  });

  beforeAll(async () => {
    requireTool('openssl');
    tokens = await startTokenServer(tmp.dir, { alice: 'token-pw' });
    reg = await startRegistry({
      dir: path.join(tmp.dir, 'registry'),
      token: { realm: tokens.realm, service: tokens.service, issuer: tokens.issuer, rootCertBundle: tokens.certFile },
    });
  }, 60_000);

  afterAll(async () => {
    await reg?.stop();
    await tokens?.close();
    tmp.cleanup();
  });

  test('no credentials: 401 naming the realm; a wrong password: the token server refuses it', async () => {
    const image = layoutFromBuild(randomImage(path.join(tmp.dir, 'a'), [2000]));
    const anon = await pushLayout(image, [`${reg.host}/tok/demo:1`], opts(configDir('anon', {}))).catch((e: unknown) => e);
    expect(anon).toBeInstanceOf(RegistryError);
    expect((anon as Error).message).toContain(`${reg.host}/tok/demo: HTTP 401`);
    expect((anon as Error).message).toContain(`realm "${tokens.realm}"`);
    expect(tokens.requests.at(-1)?.user).toBeUndefined();
    const wrong = await pushLayout(image, [`${reg.host}/tok/demo:1`], opts(configDir('wrong', { [reg.host]: basic('alice', 'nope') }))).catch((e: unknown) => e);
    expect((wrong as Error).message).toMatch(/HTTP 401: token server .* refused the credentials of alice/);
    expect(uploadsStarted(reg, 'tok/demo')).toBe(0);
  }, 60_000);

  test('credentials from podman auth.json: one token per scope; a second repository mounts with a pull scope on the first', async () => {
    const xdg = path.join(tmp.dir, 'xdg-podman');
    mkdirSync(path.join(xdg, 'containers'), { recursive: true });
    writeFileSync(path.join(xdg, 'containers', 'auth.json'), JSON.stringify({ auths: { [reg.host]: basic('alice', 'token-pw') } }));
    const o = opts(configDir('empty', {}), { XDG_RUNTIME_DIR: xdg });
    const image = layoutFromBuild(randomImage(path.join(tmp.dir, 'b'), [3000, 100_000]));
    const before = tokens.requests.length;
    const [r] = await pushLayout(image, [`${reg.host}/tok/demo:1`, `${reg.host}/tok/demo:2`], o);
    expect(r!.blobs.uploaded).toBe(3);
    const asked = tokens.requests.slice(before);
    expect(asked).toEqual([{ scopes: ['repository:tok/demo:pull,push'], user: 'alice' }]);
    const [m] = await pushLayout(image, [`${reg.host}/tok/other:1`], o);
    expect(m!.blobs).toEqual({ existing: 0, mounted: 3, uploaded: 0 });
    expect(mountsDone(reg, 'tok/other')).toBe(3);
    expect(tokens.requests.at(-1)?.scopes.sort()).toEqual(['repository:tok/demo:pull', 'repository:tok/other:pull,push']);
  }, 60_000);

  test('a token that expires mid-push is fetched again and the push completes', async () => {
    const o = opts(configDir('alice', { [`https://${reg.host}/v2/`]: basic('alice', 'token-pw') }));
    // The registry stops taking each token after 2 s, though the server says 300: only a refusal tells.
    tokens.setLifetime(2, 300);
    try {
      const input = randomImage(path.join(tmp.dir, 'c'), [1000, 2000]);
      const image = layoutFromBuild(input);
      let delayed = false;
      // The first blob read stalls 3 s while its upload is on the wire: every later request carries a dead token.
      const slow: OciLayout = {
        ...image,
        open(digest) {
          const inner = image.open(digest);
          return (async function* () {
            if (!delayed && digest === input.layers[0]!.diffId) {
              delayed = true;
              await new Promise((r) => setTimeout(r, 3000));
            }
            yield* inner;
          })();
        },
      };
      const before = tokens.requests.length;
      const [r] = await pushLayout(slow, [`${reg.host}/tok/slow:1`], { ...o, parallel: 1 });
      expect(r!.digest).toMatch(/^sha256:/);
      const asked = tokens.requests.slice(before).filter((q) => q.scopes.includes('repository:tok/slow:pull,push'));
      expect(asked.length).toBeGreaterThanOrEqual(2);
    } finally {
      tokens.setLifetime(300, 300);
    }
  }, 90_000);

  test('login through the token flow: good credentials stored, bad ones refused', async () => {
    const dir = path.join(tmp.dir, 'login-config');
    await expect(login(reg.host, { username: 'alice', password: 'bad' }, { env: { DOCKER_CONFIG: dir, DBCO_CERTS_DIRS: '' } })).rejects.toThrow(/refused the credentials of alice/);
    const where = await login(reg.host, { username: 'alice', password: 'token-pw' }, { env: { DOCKER_CONFIG: dir, DBCO_CERTS_DIRS: '' } });
    expect(where).toBe(path.join(dir, 'config.json'));
  }, 30_000);
});
