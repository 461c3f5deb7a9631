import { execFileSync } from 'node:child_process';
import { mkdirSync, copyFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { requireTool, runDbco, tempDir } from '../helpers/env.js';
import { freePort, makeCa, mountsDone, startRegistry, uploadsStarted, type TestRegistry } from '../helpers/registry.js';
import { pushRecipe } from './fixture.js';

/**
 * The whole push against Debian's docker-registry (distribution 2.8) with TLS from a CA made here and
 * htpasswd (bcrypt) auth: login, push from the build and from an archive, re-push, mount, then skopeo
 * and dockerd pull what was pushed.
 */
describe('dbco push to a TLS + htpasswd registry', () => {
  const tmp = tempDir('dbco-push-');
  let reg: TestRegistry;
  let recipe: string;
  let env: NodeJS.ProcessEnv;
  let certsRoot: string;
  let caDir: string;
  const pulled: string[] = [];

  beforeAll(async () => {
    requireTool('skopeo');
    const port = await freePort();
    const ca = makeCa(path.join(tmp.dir, 'ca'));
    certsRoot = path.join(tmp.dir, 'certs.d');
    caDir = path.join(certsRoot, `127.0.0.1:${port}`);
    mkdirSync(caDir, { recursive: true });
    copyFileSync(ca.caCrt, path.join(caDir, 'ca.crt'));
    reg = await startRegistry({ dir: path.join(tmp.dir, 'registry'), tls: ca, users: { alice: 'wonder-land' }, port });
    recipe = pushRecipe(path.join(tmp.dir, 'recipe'));
    env = {
      DBCO_CERTS_DIRS: certsRoot, DOCKER_CONFIG: path.join(tmp.dir, 'docker-config'),
      DBCO_CACHE: path.join(tmp.dir, 'cache'), XDG_RUNTIME_DIR: path.join(tmp.dir, 'xdg'), REGISTRY_AUTH_FILE: '',
    };
  }, 60_000);

  afterAll(async () => {
    await reg?.stop();
    for (const ref of pulled) {
      try { execFileSync('docker', ['rmi', ref], { stdio: 'pipe' }); } catch { /* not pulled */ }
    }
    tmp.cleanup();
  });

  const repoRef = (repo: string, tag = '1'): string => `${reg.host}/${repo}:${tag}`;

  test('without credentials: one line naming registry, repository, 401 and the realm; nothing pushed', async () => {
    const r = await runDbco(['image', recipe, '--push', repoRef('dbco/demo')], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${reg.host}/dbco/demo: HTTP 401`);
    expect(r.stderr).toMatch(/no credentials for 127\.0\.0\.1:\d+ \(dbco login/);
    expect(r.stderr).toContain('realm "dbco-test"');
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(uploadsStarted(reg, 'dbco/demo')).toBe(0);
  }, 120_000);

  test('without the CA: a TLS error that says where the CA goes', async () => {
    const r = await runDbco(['image', recipe, '--push', repoRef('dbco/demo')], { env: { ...env, DBCO_CERTS_DIRS: path.join(tmp.dir, 'none') } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/TLS: .*certs\.d\/HOST:PORT\/ca\.crt/);
  }, 60_000);

  test('login: a wrong password is refused and stores nothing; the right one is stored as docker does', async () => {
    const bad = await runDbco(['login', reg.host, '-u', 'alice', '--password-stdin'], { env, input: 'wrong\n' });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(`${reg.host}: HTTP 401`);
    expect(bad.stderr).toContain("refused alice's credentials");
    const ok = await runDbco(['login', reg.host, '-u', 'alice', '--password-stdin'], { env, input: 'wonder-land\n' });
    expect(ok.stderr).toBe(ok.code === 0 ? ok.stderr : '');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toBe('Login Succeeded\n');
    const config = JSON.parse(readFileSync(path.join(env.DOCKER_CONFIG!, 'config.json'), 'utf8'));
    expect(Buffer.from(config.auths[reg.host].auth, 'base64').toString()).toBe('alice:wonder-land');
  }, 60_000);

  let digest = '';
  let imageId = '';

  test('push from the build, two tags; skopeo sees the same digest', async () => {
    const r = await runDbco(['image', recipe, '--push', repoRef('dbco/demo'), '--push', repoRef('dbco/demo', 'latest'), '--json'], { env });
    expect(r.stderr).toBe(r.code === 0 ? r.stderr : '');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.pushed).toHaveLength(1);
    digest = out.pushed[0].digest;
    imageId = out.id;
    expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(out.pushed[0].refs).toEqual([repoRef('dbco/demo'), repoRef('dbco/demo', 'latest')]);
    expect(out.pushed[0].blobs.uploaded).toBe(out.layers.length + 1);
    for (const tag of ['1', 'latest']) {
      const inspect = JSON.parse(execFileSync('skopeo', ['inspect', '--cert-dir', caDir, '--creds', 'alice:wonder-land', `docker://${repoRef('dbco/demo', tag)}`]).toString());
      expect(inspect.Digest).toBe(digest);
      expect(inspect.Layers).toHaveLength(out.layers.length);
    }
  }, 180_000);

  test('re-push: no blob uploaded; the digest is printed', async () => {
    const before = uploadsStarted(reg, 'dbco/demo');
    const r = await runDbco(['image', recipe, '--push', repoRef('dbco/demo')], { env });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`${repoRef('dbco/demo')}@${digest}\n`);
    expect(uploadsStarted(reg, 'dbco/demo')).toBe(before);
    expect(r.stderr).toMatch(/0 uploaded, 0 mounted, \d+ already there/);
  }, 120_000);

  test('a second repository of the same registry: every blob mounted, none uploaded', async () => {
    const r = await runDbco(['image', recipe, '--push', repoRef('dbco/other'), '--json'], { env });
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.pushed[0].digest).toBe(digest);
    expect(out.pushed[0].blobs).toEqual({ existing: 0, mounted: out.layers.length + 1, uploaded: 0 });
    expect(uploadsStarted(reg, 'dbco/other')).toBe(0);
    expect(mountsDone(reg, 'dbco/other')).toBe(out.layers.length + 1);
  }, 120_000);

  test('dbco push of the --output archive gives the same digest', async () => {
    const archive = path.join(tmp.dir, 'image.tar');
    const w = await runDbco(['image', recipe, '--docker', '-o', archive], { env });
    expect(w.code).toBe(0);
    const r = await runDbco(['push', archive, repoRef('dbco/fromarchive'), '--json'], { env });
    expect(r.stderr).toBe(r.code === 0 ? r.stderr : '');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).pushed[0].digest).toBe(digest);
  }, 120_000);

  test('dockerd pulls it and runs it: the pulled image is the built one', async () => {
    requireTool('docker');
    const ref = repoRef('dbco/demo');
    pulled.push(ref);
    // 127.0.0.0/8 is an insecure registry for dockerd by default; the credentials come from DOCKER_CONFIG.
    execFileSync('docker', ['pull', '-q', ref], { env: { ...process.env, DOCKER_CONFIG: env.DOCKER_CONFIG }, stdio: 'pipe' });
    const id = execFileSync('docker', ['image', 'inspect', '-f', '{{.Id}}', ref]).toString().trim();
    expect(id).toBe(imageId);
    const out = execFileSync('docker', ['run', '--rm', ref]).toString();
    expect(out).toBe('hello from dbco push\n');
  }, 120_000);
});
