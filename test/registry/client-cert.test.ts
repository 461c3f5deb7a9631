import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { RegistryError } from '../../src/errors.js';
import { RegistryClient } from '../../src/outputs/registry/client.js';
import { requireTool, runDbco, tempDir } from '../helpers/env.js';
import { makeCa, makeClientCert, portIn, startRegistry, uploadsStarted, type TestCa, type TestRegistry } from '../helpers/registry.js';
import { pushRecipe } from './fixture.js';

/**
 * Distribution 2.8 with http.tls.clientcas: the TLS handshake needs a client certificate signed by the
 * test CA. dbco reads it as dockerd and podman do, from HOST:PORT/NAME.cert + NAME.key under
 * /etc/docker/certs.d or /etc/containers/certs.d (DBCO_CERTS_DIRS points both elsewhere here).
 */
describe('push to a registry that requires a client certificate', () => {
  const tmp = tempDir('dbco-client-cert-');
  let reg: TestRegistry;
  let ca: TestCa;
  let recipe: string;
  let env: NodeJS.ProcessEnv;
  const roots = { docker: '', containers: '', caOnly: '', otherCa: '', noKey: '' };
  const folder = (root: string): string => path.join(root, reg.host);

  beforeAll(async () => {
    requireTool('skopeo');
    const port = await portIn(5700, 5729);
    ca = makeCa(path.join(tmp.dir, 'ca'));
    reg = await startRegistry({ dir: path.join(tmp.dir, 'registry'), tls: ca, clientCas: [ca.caCrt], port });
    for (const k of Object.keys(roots) as (keyof typeof roots)[]) {
      roots[k] = path.join(tmp.dir, `${k}-certs.d`);
      mkdirSync(folder(roots[k]), { recursive: true });
      copyFileSync(ca.caCrt, path.join(folder(roots[k]), 'ca.crt'));
    }
    makeClientCert(ca, folder(roots.docker), 'client');
    makeClientCert(ca, folder(roots.containers), 'podman-client', 'dbco test podman client');
    makeClientCert(makeCa(path.join(tmp.dir, 'other-ca')), folder(roots.otherCa), 'client');
    rmSync(makeClientCert(ca, folder(roots.noKey), 'client').key);
    recipe = pushRecipe(path.join(tmp.dir, 'recipe'), 'certdemo', 'hello through a client certificate');
    env = { DBCO_CACHE: path.join(tmp.dir, 'cache'), DOCKER_CONFIG: path.join(tmp.dir, 'docker-config'), XDG_RUNTIME_DIR: path.join(tmp.dir, 'xdg'), REGISTRY_AUTH_FILE: '' };
  }, 120_000);

  afterAll(async () => {
    await reg?.stop();
    tmp.cleanup();
  });

  test('without a client certificate: one line naming the registry and saying where the certificate goes; nothing pushed', async () => {
    const r = await runDbco(['image', recipe, '--push', `${reg.host}/cert/demo:1`], { env: { ...env, DBCO_CERTS_DIRS: roots.caOnly } });
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split('\n');
    const last = lines[lines.length - 1]!;
    expect(last).toContain(reg.host);
    expect(last).toMatch(/client certificate/);
    expect(last).toContain('client.cert');
    expect(last).not.toContain('ca.crt');
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(uploadsStarted(reg, 'cert/demo')).toBe(0);
  }, 120_000);

  test('with a client certificate from a CA the registry does not trust: the error names that certificate', async () => {
    const r = await runDbco(['image', recipe, '--push', `${reg.host}/cert/other:1`], { env: { ...env, DBCO_CERTS_DIRS: roots.otherCa } });
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines[lines.length - 1]).toContain(`${reg.host}: GET /v2/: TLS: the registry refused the handshake`);
    expect(lines[lines.length - 1]).toContain(`refused the client certificate ${path.join(folder(roots.otherCa), 'client.cert')}`);
    expect(uploadsStarted(reg, 'cert/other')).toBe(0);
  }, 120_000);

  test('a NAME.cert without its NAME.key: one line naming both files, nothing sent', async () => {
    const r = await runDbco(['image', recipe, '--push', `${reg.host}/cert/nokey:1`], { env: { ...env, DBCO_CERTS_DIRS: roots.noKey } });
    expect(r.code).toBe(1);
    const dir = folder(roots.noKey);
    expect(r.stderr.trim().split('\n').at(-1)).toBe(`dbco: ${reg.host}: client certificate ${dir}/client.cert has no key beside it (${dir}/client.key)`);
    expect(uploadsStarted(reg, 'cert/nokey')).toBe(0);
  }, 120_000);

  test('a TLS 1.3 server asking for a client certificate (alert "certificate required", not 1.2\'s "bad certificate"): the same one line, no retries', async () => {
    // distribution 2.8 ends this handshake with TLS 1.2's alert 42 here; Node's server speaks only 1.3 below.
    const server = https.createServer({
      key: readFileSync(ca.serverKey), cert: readFileSync(ca.serverCrt), ca: readFileSync(ca.caCrt),
      requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.3',
    }, (_req, res) => { res.writeHead(200, { 'content-type': 'application/json' }).end('{}'); });
    const port = await portIn(5700, 5729);
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
    try {
      const host = `127.0.0.1:${port}`;
      mkdirSync(path.join(roots.caOnly, host), { recursive: true });
      copyFileSync(ca.caCrt, path.join(roots.caOnly, host, 'ca.crt'));
      const retries: string[] = [];
      const err = await RegistryClient.connect(host, { env: { DBCO_CERTS_DIRS: roots.caOnly }, backoffMs: 10, onRetry: (w) => retries.push(w) }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RegistryError);
      expect((err as Error).message).toBe(`${host}: GET /v2/: TLS: the registry refused the handshake (alert "certificate required"): ` +
        `it asks for a client certificate and none was found: put client.cert and client.key in ${path.join(roots.caOnly, host)}/`);
      expect(retries).toEqual([]);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  }, 60_000);

  for (const layout of ['docker', 'containers'] as const) {
    test(`with NAME.cert + NAME.key in the ${layout} certs.d layout: the push succeeds and skopeo (--cert-dir) sees the digest`, async () => {
      const repo = `cert/${layout}`;
      // The containers case also checks the roots are read in turn: the first holds only the CA.
      const dirs = layout === 'docker' ? roots.docker : `${roots.caOnly}:${roots.containers}`;
      const r = await runDbco(['image', recipe, '--push', `${reg.host}/${repo}:1`, '--json'], { env: { ...env, DBCO_CERTS_DIRS: dirs } });
      expect(r.code, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout) as { layers: unknown[]; pushed: { digest: string; blobs: { uploaded: number; mounted: number; existing: number } }[] };
      // Every blob went over the client-authenticated connection (uploaded, or mounted from the other repository).
      const { uploaded, mounted, existing } = out.pushed[0]!.blobs;
      expect([uploaded + mounted, existing]).toEqual([out.layers.length + 1, 0]);
      expect(uploadsStarted(reg, repo)).toBe(uploaded);
      const inspect = JSON.parse(execFileSync('skopeo', ['inspect', '--cert-dir', folder(roots[layout]), `docker://${reg.host}/${repo}:1`]).toString()) as { Digest: string };
      expect(inspect.Digest).toBe(out.pushed[0]!.digest);
      // skopeo without the client certificate is refused too: the registry really checks it.
      expect(() => execFileSync('skopeo', ['inspect', '--cert-dir', folder(roots.caOnly), `docker://${reg.host}/${repo}:1`], { stdio: 'pipe' })).toThrow(/certificate/);
    }, 180_000);
  }
});
