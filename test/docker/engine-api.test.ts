import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import path from 'node:path';
import { requireTool, tempDir } from '../helpers/env.js';
import { connectEngine, inspectImage, request, tagImage } from '../../src/outputs/docker/engine.js';
import { endpointFor } from '../../src/outputs/docker/engine-api/endpoint.js';
import { negotiateVersion, OUR_API_VERSION } from '../../src/outputs/docker/engine-api/api-version.js';
import { jsonLines } from '../../src/outputs/docker/engine-api/json-lines.js';
import { ENGINES, requireEngine, type TestEngine } from './helpers/engines.js';

describe('Engine API client: own logic', () => {
  test('DOCKER_HOST forms and TLS settings, as the docker CLI reads them', () => {
    expect(endpointFor(undefined)).toEqual({ where: 'unix:///var/run/docker.sock', socketPath: '/var/run/docker.sock' });
    expect(endpointFor('unix:///run/x.sock').socketPath).toBe('/run/x.sock');
    expect(endpointFor('tcp://10.0.0.2', {})).toEqual({ where: 'tcp://10.0.0.2', host: '10.0.0.2', port: 2375 });
    expect(endpointFor('tcp://[::1]:4243', {})).toMatchObject({ host: '::1', port: 4243 });
    const tmp = tempDir('dbco-endpoint-');
    try {
      writeFileSync(path.join(tmp.dir, 'ca.pem'), 'CA');
      const verified = endpointFor('tcp://h', { DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: tmp.dir });
      expect(verified).toMatchObject({ port: 2376, tls: { verify: true, ca: Buffer.from('CA'), cert: undefined } });
      expect(endpointFor('tcp://h:9', { DOCKER_TLS: '1', DOCKER_CERT_PATH: tmp.dir }).tls?.verify).toBe(false);
      expect(() => endpointFor('tcp://h', { DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: path.join(tmp.dir, 'none') })).toThrow(/none\/ca\.pem cannot be read/);
    } finally {
      tmp.cleanup();
    }
    expect(() => endpointFor('ssh://me@host')).toThrow(/ssh:\/\/ is not supported/);
    expect(() => endpointFor('host:2375')).toThrow(/without a scheme/);
  });

  test('API version: the lower of the engine\'s and ours; DOCKER_API_VERSION pins it; 1.24 when unsaid', () => {
    expect(negotiateVersion('1.41', {})).toBe('1.41');
    expect(negotiateVersion('1.47', {})).toBe(OUR_API_VERSION);
    expect(negotiateVersion('1.9', {})).toBe('1.9'); // numerically, not as text
    expect(negotiateVersion(undefined, {})).toBe('1.24');
    expect(negotiateVersion('1.45', { DOCKER_API_VERSION: '1.40' })).toBe('1.40');
  });

  test('JSON lines cut anywhere between chunks, a character split across two', async () => {
    const text = Buffer.from('{"status":"Loaded image: é"}\n\n{"stream":"x"}');
    const chunks = async function* () { for (let i = 0; i < text.length; i++) yield text.subarray(i, i + 1); };
    const got: unknown[] = [];
    for await (const m of jsonLines(chunks(), (l) => new Error(l))) got.push(m);
    expect(got).toEqual([{ status: 'Loaded image: é' }, { stream: 'x' }]);
    const bad = async function* () { yield '{"a":1}\nnot json\n'; };
    await expect((async () => { for await (const _ of jsonLines(bad(), (l) => new Error(`bad: ${l}`))) { /* drain */ } })()).rejects.toThrow('bad: not json');
  });
});

/** A TCP (or TLS) front for an engine's unix socket that records each request line. */
async function frontFor(socketPath: string, tlsOptions?: tls.TlsOptions): Promise<{ url: string; lines: string[]; close: () => void }> {
  const lines: string[] = [];
  const onConnection = (client: net.Socket): void => {
    const upstream = net.connect(socketPath);
    let head = '';
    client.on('data', (c: Buffer) => {
      if (head.length < 512) {
        head += c.toString('latin1');
        for (const m of head.matchAll(/^(GET|POST|DELETE|HEAD) (\S+) HTTP\/1\.1$/gm)) if (!lines.includes(`${m[1]} ${m[2]}`)) lines.push(`${m[1]} ${m[2]}`);
      }
    });
    client.pipe(upstream).pipe(client);
    const end = (): void => { client.destroy(); upstream.destroy(); };
    client.on('error', end);
    upstream.on('error', end);
  };
  const server = tlsOptions ? tls.createServer(tlsOptions, onConnection) : net.createServer(onConnection);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return { url: `tcp://127.0.0.1:${port}`, lines, close: () => server.close() };
}

describe.each(ENGINES)('Engine API client on $name', (e: TestEngine) => {
  const socketPath = e.host.replace(/^unix:\/\//, '');
  const tmp = tempDir('dbco-engine-api-');
  const tag = `dbco-test-api-${e.name}:${process.pid}`;
  beforeAll(() => { requireEngine(e); });
  afterAll(() => {
    try { execFileSync('docker', ['rmi', tag], { env: { ...process.env, DOCKER_HOST: e.host }, stdio: 'ignore' }); } catch { /* not there */ }
    tmp.cleanup();
  });

  test('over TCP: every call after the ping in the negotiated version; errors name engine, call and status', async () => {
    const front = await frontFor(socketPath);
    try {
      const engine = await connectEngine(2000, front.url);
      expect(engine.name).toMatch(e.expect);
      expect(engine.name).toContain(front.url);
      // dockerd 20.10 and Podman 4.3 speak 1.41, Docker 26.1 1.45 (ours).
      expect(engine.api.version).toBe(e.name === 'docker26' ? '1.45' : '1.41');
      expect(await inspectImage(engine, `dbco-no-such-image-${process.pid}:x`)).toBeUndefined();
      const err = (await tagImage(engine, `sha256:${'0'.repeat(64)}`, tag).catch((x: unknown) => x)) as Error;
      expect(err).toBeInstanceOf(Error);
      expect(err.message).toMatch(new RegExp(`^${e.expect.source.slice(1)}.* at tcp://127\\.0\\.0\\.1:\\d+: tagging sha256:0+ as ${tag}: .*HTTP 404 from POST /images/sha256:0+/tag`));
      const versioned = front.lines.filter((l) => !l.startsWith('GET /_ping'));
      expect(versioned.length).toBeGreaterThanOrEqual(2);
      for (const l of versioned) expect(l).toMatch(new RegExp(`^\\S+ /v${engine.api.version!.replace('.', '\\.')}/`));
    } finally {
      front.close();
    }
  });

  test('over TLS with DOCKER_TLS_VERIFY: verified with the CA in DOCKER_CERT_PATH, refused with another CA', async () => {
    requireTool('openssl');
    const d = tmp.dir;
    const ssl = (...args: string[]): void => { execFileSync('openssl', args, { cwd: d, stdio: 'ignore' }); };
    for (const ca of ['ca', 'other-ca']) {
      ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${ca}`, '-keyout', `${ca}-key.pem`, '-out', `${ca}.pem`);
    }
    writeFileSync(path.join(d, 'san.cnf'), 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n');
    for (const who of ['server', 'cert']) {
      ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${who}`, '-keyout', `${who}-key.pem`, '-out', `${who}.csr`);
      ssl('x509', '-req', '-in', `${who}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-days', '2', '-extfile', 'san.cnf', '-out', `${who}.pem`);
    }
    execFileSync('cp', [path.join(d, 'cert-key.pem'), path.join(d, 'key.pem')]);
    const read = (f: string): Buffer => readFileSync(path.join(d, f));
    const front = await frontFor(socketPath, { key: read('server-key.pem'), cert: read('server.pem'), ca: read('ca.pem'), requestCert: true, rejectUnauthorized: true });
    const saved = { v: process.env.DOCKER_TLS_VERIFY, p: process.env.DOCKER_CERT_PATH };
    try {
      process.env.DOCKER_TLS_VERIFY = '1';
      process.env.DOCKER_CERT_PATH = d;
      const engine = await connectEngine(5000, front.url);
      expect(engine.name).toMatch(e.expect);
      const info = await request<{ ID?: string }>(engine, 'info', { method: 'GET', path: '/info' });
      expect(info).toBeTypeOf('object');
      // The engine's certificate checked against a CA that did not sign it: refused before any call.
      const other = path.join(d, 'other');
      execFileSync('mkdir', ['-p', other]);
      for (const f of ['cert.pem', 'key.pem']) execFileSync('cp', [path.join(d, f), other]);
      execFileSync('cp', [path.join(d, 'other-ca.pem'), path.join(other, 'ca.pem')]);
      process.env.DOCKER_CERT_PATH = other;
      await expect(connectEngine(5000, front.url)).rejects.toThrow(/cannot reach the Docker engine at tcp:\/\/127\.0\.0\.1:\d+: .*(certificate|self.signed)/i);
    } finally {
      for (const [k, v] of [['DOCKER_TLS_VERIFY', saved.v], ['DOCKER_CERT_PATH', saved.p]] as const) {
        if (v === undefined) delete process.env[k]; else process.env[k] = v;
      }
      front.close();
    }
  });
});
