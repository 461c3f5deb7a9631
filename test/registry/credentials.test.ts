import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parseChallenge } from '../../src/outputs/registry/auth.js';
import { findCredentials, storeCredentials } from '../../src/outputs/registry/credentials.js';
import { isLoopback, parseRef } from '../../src/outputs/registry/refs.js';
import { tempDir } from '../helpers/env.js';

/** Credential lookup as docker and podman do it, with a real docker-credential-* helper program made here. */
describe('credentials', () => {
  const tmp = tempDir('dbco-creds-');
  const bin = path.join(tmp.dir, 'bin');
  const oldPath = process.env.PATH;
  const log = path.join(tmp.dir, 'helper.log');

  beforeAll(() => {
    mkdirSync(bin, { recursive: true });
    // The credential-helper protocol: action as argument, server URL (get) or JSON (store) on stdin.
    const helper = path.join(bin, 'docker-credential-dbcotest');
    writeFileSync(helper, `#!/bin/sh\ninput=$(cat)\necho "$1 $input" >> ${log}\ncase "$1:$input" in\n` +
      `  get:reg.example:5000) echo '{"ServerURL":"reg.example:5000","Username":"helper-user","Secret":"helper-secret"}' ;;\n` +
      `  get:*) echo 'credentials not found in native keychain'; exit 1 ;;\n  store:*) ;;\nesac\n`);
    chmodSync(helper, 0o755);
    process.env.PATH = `${bin}:${oldPath}`;
  });
  afterAll(() => {
    process.env.PATH = oldPath;
    tmp.cleanup();
  });

  const config = (name: string, body: unknown): NodeJS.ProcessEnv => {
    const dir = path.join(tmp.dir, name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify(body));
    return { DOCKER_CONFIG: dir, XDG_RUNTIME_DIR: path.join(tmp.dir, 'no-xdg') };
  };
  const b64 = (s: string): string => Buffer.from(s).toString('base64');

  test('auths, under any of the keys docker writes', async () => {
    const env = config('auths', { auths: { 'https://reg.example:5000/v2/': { auth: b64('u1:p:1') }, 'https://index.docker.io/v1/': { auth: b64('hub:pw') } } });
    expect(await findCredentials('reg.example:5000', env)).toMatchObject({ username: 'u1', password: 'p:1' });
    expect(await findCredentials('docker.io', env)).toMatchObject({ username: 'hub', password: 'pw' });
    expect(await findCredentials('other:1', env)).toBeUndefined();
  });

  test('credHelpers for the host, credsStore for the rest; "not found" falls back to auths', async () => {
    const env = config('helpers', { credHelpers: { 'reg.example:5000': 'dbcotest' } });
    expect(await findCredentials('reg.example:5000', env)).toEqual({ username: 'helper-user', password: 'helper-secret', from: 'docker-credential-dbcotest' });
    const store = config('store', { credsStore: 'dbcotest', auths: { 'other:1': { auth: b64('a:b') } } });
    expect(await findCredentials('other:1', store)).toMatchObject({ username: 'a', password: 'b' });
    expect(readFileSync(log, 'utf8')).toContain('get other:1');
  });

  test("podman's auth.json when the docker config has nothing", async () => {
    const xdg = path.join(tmp.dir, 'xdg');
    mkdirSync(path.join(xdg, 'containers'), { recursive: true });
    writeFileSync(path.join(xdg, 'containers', 'auth.json'), JSON.stringify({ auths: { 'quay.example': { auth: b64('pod:man') } } }));
    const env = { ...config('empty', {}), XDG_RUNTIME_DIR: xdg };
    expect(await findCredentials('quay.example', env)).toMatchObject({ username: 'pod', password: 'man', from: path.join(xdg, 'containers', 'auth.json') });
  });

  test('login stores auths (mode 0600, other keys kept), or through the configured helper', async () => {
    const env = config('login', { auths: { 'keep:1': { auth: b64('k:k') } }, HttpHeaders: { 'X-A': 'b' } });
    await storeCredentials('reg.example:5000', { username: 'me', password: 'pw' }, env);
    const file = path.join(env.DOCKER_CONFIG!, 'config.json');
    const written = JSON.parse(readFileSync(file, 'utf8'));
    expect(written.auths['reg.example:5000'].auth).toBe(b64('me:pw'));
    expect(written.auths['keep:1']).toBeDefined();
    expect(written.HttpHeaders).toEqual({ 'X-A': 'b' });
    const helperEnv = config('login-helper', { credsStore: 'dbcotest' });
    expect(await storeCredentials('reg.example:5000', { username: 'me', password: 'pw' }, helperEnv)).toBe('docker-credential-dbcotest');
    expect(readFileSync(log, 'utf8')).toContain('store {"ServerURL":"reg.example:5000","Username":"me","Secret":"pw"}');
    expect(JSON.parse(readFileSync(path.join(helperEnv.DOCKER_CONFIG!, 'config.json'), 'utf8')).auths['reg.example:5000']).toEqual({});
  });

  test('references and challenges', () => {
    expect(parseRef('demo')).toEqual({ registry: 'docker.io', repository: 'library/demo', tag: 'latest', digest: undefined });
    expect(parseRef('localhost:5000/a/b:1')).toMatchObject({ registry: 'localhost:5000', repository: 'a/b', tag: '1' });
    expect(parseRef(`r.example/a@sha256:${'a'.repeat(64)}`)).toMatchObject({ registry: 'r.example', repository: 'a', tag: undefined });
    expect(() => parseRef('r.example/UPPER:1')).toThrow(/lowercase/);
    expect(isLoopback('127.0.0.1:5000')).toBe(true);
    expect(isLoopback('[::1]:5000')).toBe(true);
    expect(isLoopback('reg.example:5000')).toBe(false);
    expect(parseChallenge('Bearer realm="https://auth.example/token",service="reg",scope="repository:a:pull"'))
      .toEqual({ scheme: 'bearer', realm: 'https://auth.example/token', service: 'reg', error: undefined });
    expect(parseChallenge('Basic realm="x"')).toMatchObject({ scheme: 'basic', realm: 'x' });
    expect(parseChallenge(undefined)).toBeUndefined();
  });
});
