import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { requireTool } from './env.js';

/** install-deps unpacks Debian's docker-registry here (the package's postinst would start a system one). */
const UNPACKED = '/var/cache/dbco-test/docker-registry/usr/bin/docker-registry';

export function registryBinary(): string {
  if (process.env.DBCO_REGISTRY_BIN) return process.env.DBCO_REGISTRY_BIN;
  if (existsSync(UNPACKED)) return UNPACKED;
  return requireTool('docker-registry');
}

/** A free port on 127.0.0.1, chosen now (the registry binds it itself). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

export interface TestCa {
  dir: string;
  caCrt: string;
  caKey: string;
  serverCrt: string;
  serverKey: string;
}

/** A CA of the test's own and a server certificate for 127.0.0.1 signed by it (openssl). */
export function makeCa(dir: string): TestCa {
  requireTool('openssl');
  mkdirSync(dir, { recursive: true });
  const p = (n: string): string => path.join(dir, n);
  const ossl = (...args: string[]): void => { execFileSync('openssl', args, { stdio: 'pipe' }); };
  ossl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
    '-subj', '/CN=dbco test CA', '-keyout', p('ca.key'), '-out', p('ca.crt'));
  ossl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', '/CN=127.0.0.1',
    '-keyout', p('server.key'), '-out', p('server.csr'));
  writeFileSync(p('ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  ossl('x509', '-req', '-in', p('server.csr'), '-CA', p('ca.crt'), '-CAkey', p('ca.key'), '-CAcreateserial',
    '-days', '2', '-extfile', p('ext.cnf'), '-out', p('server.crt'));
  return { dir, caCrt: p('ca.crt'), caKey: p('ca.key'), serverCrt: p('server.crt'), serverKey: p('server.key') };
}

/** A client certificate (extendedKeyUsage clientAuth) signed by the test CA, as NAME.cert and NAME.key in `dir`. */
export function makeClientCert(ca: TestCa, dir: string, name = 'client', cn = 'dbco test client'): { cert: string; key: string } {
  mkdirSync(dir, { recursive: true });
  const p = (n: string): string => path.join(dir, n);
  const ossl = (...args: string[]): void => { execFileSync('openssl', args, { stdio: 'pipe' }); };
  ossl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', `/CN=${cn}`,
    '-keyout', p(`${name}.key`), '-out', p(`${name}.csr`));
  writeFileSync(p(`${name}.ext`), 'extendedKeyUsage=clientAuth\n');
  ossl('x509', '-req', '-in', p(`${name}.csr`), '-CA', ca.caCrt, '-CAkey', ca.caKey, '-CAcreateserial',
    '-days', '2', '-extfile', p(`${name}.ext`), '-out', p(`${name}.cert`));
  return { cert: p(`${name}.cert`), key: p(`${name}.key`) };
}

/** The first free port in from..to on 127.0.0.1: suites that run at once each keep to their own range. */
export async function portIn(from: number, to: number): Promise<number> {
  for (let port = from; port <= to; port++) {
    const free = await new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error(`no free port in ${from}..${to}`);
}

export interface RegistryOptions {
  dir: string;
  tls?: TestCa;
  /** With tls: CA files the registry checks client certificates against; a client without one is refused. */
  clientCas?: string[];
  /** htpasswd users (bcrypt via htpasswd -B). */
  users?: Record<string, string>;
  token?: { realm: string; service: string; issuer: string; rootCertBundle: string };
  port?: number;
}

export interface TestRegistry {
  /** host:port as written in references. */
  host: string;
  port: number;
  /** The access log so far (one line per request). */
  log(): string;
  /** Requests seen so far, parsed from the access log. */
  requests(): { method: string; path: string; status: number }[];
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts the same registry (same storage, same port) again after kill(). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** Debian's docker-registry (distribution 2.8) on 127.0.0.1 with its own storage, TLS and auth as asked. */
export async function startRegistry(opts: RegistryOptions): Promise<TestRegistry> {
  const bin = registryBinary();
  mkdirSync(opts.dir, { recursive: true });
  const port = opts.port ?? (await freePort());
  const config = path.join(opts.dir, 'config.yml');
  let auth = '';
  if (opts.users) {
    requireTool('htpasswd');
    const file = path.join(opts.dir, 'htpasswd');
    let first = true;
    for (const [user, pass] of Object.entries(opts.users)) {
      execFileSync('htpasswd', [first ? '-Bbc' : '-Bb', file, user, pass], { stdio: 'pipe' });
      first = false;
    }
    auth = `auth:\n  htpasswd:\n    realm: dbco-test\n    path: ${file}\n`;
  } else if (opts.token) {
    auth = `auth:\n  token:\n    realm: ${opts.token.realm}\n    service: ${opts.token.service}\n    issuer: ${opts.token.issuer}\n    rootcertbundle: ${opts.token.rootCertBundle}\n`;
  }
  const clientCas = opts.clientCas?.length ? `    clientcas:\n${opts.clientCas.map((f) => `      - ${f}\n`).join('')}` : '';
  const tls = opts.tls ? `  tls:\n    certificate: ${opts.tls.serverCrt}\n    key: ${opts.tls.serverKey}\n${clientCas}` : '';
  writeFileSync(config, [
    'version: 0.1',
    'log:\n  level: info\n  formatter: text\n  accesslog:\n    disabled: false',
    `storage:\n  filesystem:\n    rootdirectory: ${path.join(opts.dir, 'data')}\n  delete:\n    enabled: true`,
    `http:\n  addr: 127.0.0.1:${port}\n  secret: dbco-test-secret\n${tls}`,
    auth,
  ].join('\n'));

  let out = '';
  let child: ChildProcess | undefined;
  const start = async (): Promise<void> => {
    const from = out.length;
    child = spawn(bin, ['serve', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (c: Buffer) => { out += c.toString(); });
    child.stderr!.on('data', (c: Buffer) => { out += c.toString(); });
    const deadline = Date.now() + 15_000;
    while (!/listening on/.test(out.slice(from))) {
      if (child.exitCode !== null) throw new Error(`docker-registry exited: ${out}`);
      if (Date.now() > deadline) throw new Error(`docker-registry did not start: ${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const kill = async (signal: NodeJS.Signals = 'SIGKILL'): Promise<void> => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill(signal);
    await exited;
  };
  await start();
  return {
    host: `127.0.0.1:${port}`,
    port,
    log: () => out,
    requests: () => [...out.matchAll(/"([A-Z]+) (\S+) HTTP\/[\d.]+" (\d{3})/g)].map((m) => ({ method: m[1]!, path: m[2]!, status: Number(m[3]) })),
    kill,
    restart: start,
    stop: () => kill('SIGTERM'),
  };
}

/** Blob uploads started in `repo` (POSTs that opened a session, not mounts). */
export function uploadsStarted(reg: TestRegistry, repo: string): number {
  return reg.requests().filter((r) => r.method === 'POST' && r.path.startsWith(`/v2/${repo}/blobs/uploads/`) && r.status === 202).length;
}

export function mountsDone(reg: TestRegistry, repo: string): number {
  return reg.requests().filter((r) => r.method === 'POST' && r.path.startsWith(`/v2/${repo}/blobs/uploads/?mount=`) && r.status === 201).length;
}
