import { RegistryError } from '../../errors.js';
import type { Credentials } from './credentials.js';
import type { Transport } from './http.js';

export interface Challenge {
  scheme: 'basic' | 'bearer';
  realm?: string;
  service?: string;
  /** error="invalid_token" etc., sent when a token was refused. */
  error?: string;
}

/** RFC 7235 WWW-Authenticate: `Bearer realm="...",service="...",scope="..."`. */
export function parseChallenge(header: string | string[] | undefined): Challenge | undefined {
  const text = Array.isArray(header) ? header.find((h) => /^bearer/i.test(h)) ?? header[0] : header;
  if (!text) return undefined;
  const m = /^\s*(\w+)\s*(.*)$/s.exec(text);
  if (!m) return undefined;
  const scheme = m[1]!.toLowerCase();
  if (scheme !== 'basic' && scheme !== 'bearer') return undefined;
  const params: Record<string, string> = {};
  for (const p of m[2]!.matchAll(/(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/g)) {
    params[p[1]!.toLowerCase()] = (p[2] ?? p[3] ?? '').replace(/\\(.)/g, '$1');
  }
  return { scheme, realm: params.realm, service: params.service, error: params.error };
}

interface CachedToken { token: string; renewAt: number }

/** Tokens are renewed this long (at most a tenth of their life) before their expiry, so none lapses in flight. */
const RENEW_BEFORE_MS = 5_000;
/** The token spec's default when the server gives no expires_in. */
const DEFAULT_EXPIRES_S = 60;

/**
 * Docker's auth as a client sees it: none until the registry asks; basic with the stored credentials;
 * or the bearer-token flow (token server at the challenge's realm, per scope set, cached until it
 * expires and fetched again when the registry refuses it).
 */
export class Auth {
  challenge?: Challenge;
  private readonly tokens = new Map<string, CachedToken>();
  /** Fetches in flight per scope set: parallel blob pushes share one instead of asking once each. */
  private readonly pending = new Map<string, Promise<CachedToken>>();
  /** Token fetches, for tests and logs. */
  tokenFetches = 0;

  constructor(
    private readonly transport: Transport,
    private readonly credentials: Credentials | undefined,
    private readonly now: () => number = Date.now,
  ) {}

  /** The Authorization header for a request needing `scopes`, or undefined while the registry asked for none. */
  async header(scopes: string[], repository?: string): Promise<string | undefined> {
    const c = this.challenge;
    if (!c) return undefined;
    if (c.scheme === 'basic') {
      if (!this.credentials) return undefined;
      return `Basic ${Buffer.from(`${this.credentials.username}:${this.credentials.password}`).toString('base64')}`;
    }
    const key = [...scopes].sort().join(' ');
    const cached = this.tokens.get(key);
    if (cached && cached.renewAt > this.now()) return `Bearer ${cached.token}`;
    let pending = this.pending.get(key);
    if (!pending) {
      pending = this.fetchToken(c, scopes, repository).finally(() => this.pending.delete(key));
      this.pending.set(key, pending);
    }
    const token = await pending;
    this.tokens.set(key, token);
    return `Bearer ${token.token}`;
  }

  /** A 401 came back: learn the challenge and drop the refused token. Returns whether one more try can help. */
  refused(header: string | string[] | undefined, scopes: string[], hadAuth: boolean): boolean {
    const next = parseChallenge(header);
    const first = !this.challenge;
    if (next) this.challenge = { ...next };
    this.tokens.delete([...scopes].sort().join(' '));
    if (!next) return false;
    // Retry when we sent nothing yet (first challenge) or a bearer token the registry no longer takes.
    return first || !hadAuth || next.scheme === 'bearer';
  }

  private async fetchToken(c: Challenge, scopes: string[], repository?: string): Promise<CachedToken> {
    const registry = this.transport.registry;
    if (!c.realm) throw new RegistryError(registry, repository, 401, 'the registry asked for a bearer token but named no realm');
    const url = new URL(c.realm);
    if (c.service) url.searchParams.set('service', c.service);
    for (const s of scopes) url.searchParams.append('scope', s);
    const headers: Record<string, string> = {};
    if (this.credentials) headers.authorization = `Basic ${Buffer.from(`${this.credentials.username}:${this.credentials.password}`).toString('base64')}`;
    this.tokenFetches++;
    const started = this.now();
    const res = await this.transport.send({ method: 'GET', url: url.toString(), headers });
    if (res.status === 401 || res.status === 403) {
      throw new RegistryError(registry, repository, res.status,
        `token server ${c.realm} refused ${this.credentials ? `the credentials of ${this.credentials.username} (from ${this.credentials.from})` : 'an anonymous request: no credentials (dbco login ' + registry + ')'}`);
    }
    if (res.status !== 200) throw new RegistryError(registry, repository, res.status, `token server ${c.realm} answered ${res.status}`);
    let body: { token?: string; access_token?: string; expires_in?: number };
    try {
      body = JSON.parse(res.body.toString('utf8')) as typeof body;
    } catch {
      throw new RegistryError(registry, repository, res.status, `token server ${c.realm} answered something that is not JSON`);
    }
    const token = body.token ?? body.access_token;
    if (!token) throw new RegistryError(registry, repository, res.status, `token server ${c.realm} gave no token`);
    const expiresIn = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : DEFAULT_EXPIRES_S;
    return { token, renewAt: started + expiresIn * 1000 - Math.min(RENEW_BEFORE_MS, expiresIn * 100) };
  }
}
