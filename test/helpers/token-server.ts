import { execFileSync } from 'node:child_process';
import { createPrivateKey, randomBytes, sign, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import path from 'node:path';

/**
 * A token server as the distribution spec's token flow expects one: GET realm?service=&scope=...
 * with optional Basic credentials, answering {token, expires_in}. The token is a JWT (RS256) signed
 * by a key whose self-signed certificate the registry trusts (rootcertbundle), named in `x5c`.
 */
export interface TokenServer {
  realm: string;
  service: string;
  issuer: string;
  certFile: string;
  /** Each request: the scopes asked and the user (undefined: anonymous). */
  requests: { scopes: string[]; user?: string }[];
  /** Seconds a token is good for at the registry (its `exp`, less the registry's 60 s leeway); and what expires_in says. */
  setLifetime(registrySeconds: number, advertisedSeconds: number): void;
  close(): Promise<void>;
}

/** distribution 2.8 accepts a token up to this long after its exp. */
const REGISTRY_LEEWAY_S = 60;

const b64url = (b: Buffer | string): string => Buffer.from(b).toString('base64url');

export async function startTokenServer(dir: string, users: Record<string, string>): Promise<TokenServer> {
  const key = path.join(dir, 'token.key');
  const certFile = path.join(dir, 'token.crt');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=dbco test token issuer',
    '-keyout', key, '-out', certFile], { stdio: 'pipe' });
  const pem = readFileSync(certFile, 'utf8');
  const der = Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  const privateKey: KeyObject = createPrivateKey(readFileSync(key));
  const service = 'dbco-test-registry';
  const issuer = 'dbco-test-token-issuer';
  let lifetime = 300;
  let advertised = 300;
  const requests: TokenServer['requests'] = [];

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const scopes = url.searchParams.getAll('scope');
    const basic = /^Basic (.+)$/i.exec(req.headers.authorization ?? '');
    let user: string | undefined;
    if (basic) {
      const [u, ...rest] = Buffer.from(basic[1]!, 'base64').toString().split(':');
      if (users[u!] === undefined || users[u!] !== rest.join(':')) {
        res.writeHead(401, { 'content-type': 'application/json' }).end('{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}');
        requests.push({ scopes, user: `bad:${u}` });
        return;
      }
      user = u;
    }
    requests.push({ scopes, user });
    const now = Math.floor(Date.now() / 1000);
    // Anonymous callers get a token with no access: the registry then refuses with 401.
    const access = user ? scopes.map((s) => {
      const [type, name, actions] = s.split(':');
      return { type, name, actions: (actions ?? '').split(',').filter(Boolean) };
    }) : [];
    const header = { typ: 'JWT', alg: 'RS256', x5c: [der.toString('base64')] };
    const claims = {
      iss: issuer, sub: user ?? '', aud: service, exp: now + lifetime - REGISTRY_LEEWAY_S, nbf: now - 10, iat: now,
      jti: randomBytes(8).toString('hex'), access,
    };
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const token = `${input}.${b64url(sign('sha256', Buffer.from(input), privateKey))}`;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token, expires_in: advertised, issued_at: new Date(now * 1000).toISOString() }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return {
    realm: `http://127.0.0.1:${port}/token`, service, issuer, certFile, requests,
    setLifetime(registrySeconds, advertisedSeconds) {
      lifetime = registrySeconds;
      advertised = advertisedSeconds;
    },
    close: () => new Promise((r) => server.close(() => r())),
  };
}
