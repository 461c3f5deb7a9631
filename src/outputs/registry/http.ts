import http, { type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import { createSecureContext } from 'node:tls';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { RegistryError } from '../../errors.js';
import { apiHost, isLoopback } from './refs.js';
import { certsDirRoots, tlsOptionsFor } from './tls.js';

export interface HttpRequest {
  method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Absolute URL, or a path below the registry's base ('/v2/...'). */
  url: string;
  headers?: Record<string, string>;
  /** Made anew for each try, so a retried upload streams the file again from its start. */
  body?: () => AsyncIterable<Uint8Array> | Buffer;
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  url: string;
}

export interface TransportOptions {
  /** Named with --insecure-registry: https without verification, then plain http. */
  insecure?: boolean;
  /** Tries after the first, on 5xx, 429 and connection resets. */
  retries?: number;
  /** First backoff; doubled each try. */
  backoffMs?: number;
  env?: NodeJS.ProcessEnv;
  /** Called before each try after the first (tests count them; the CLI logs them). */
  onRetry?: (what: string, attempt: number) => void;
}

const MAX_BODY = 16 << 20;
const RETRYABLE_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED', 'EAI_AGAIN', 'UND_ERR_SOCKET']);
/** TLS spoken to a plain-http server fails this way: the cue to fall back for loopback and --insecure-registry. */
const PLAIN_HTTP_CODES = new Set(['EPROTO', 'ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_SSL_PACKET_LENGTH_TOO_LONG']);

const errCode = (err: unknown): string => String((err as NodeJS.ErrnoException)?.code ?? '');
export const isRetryableError = (err: unknown): boolean =>
  RETRYABLE_CODES.has(errCode(err)) || /socket hang up|ECONNRESET/.test(String((err as Error)?.message));
const isRetryableStatus = (status: number): boolean => status >= 500 || status === 429;

/**
 * One registry's HTTP side: the scheme (https; plain http only for loopback or --insecure-registry),
 * keep-alive agents with the system CAs plus certs.d, and retries with backoff. Auth sits above it.
 */
export class Transport {
  base = '';
  private tlsAgent: https.Agent | undefined;
  /** The client certificate presented, if certs.d has one: named when the registry refuses the handshake. */
  private clientCert: string | undefined;
  private readonly httpAgent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  private readonly retries: number;
  private readonly backoffMs: number;

  constructor(readonly registry: string, private readonly opts: TransportOptions = {}) {
    this.retries = opts.retries ?? 4;
    this.backoffMs = opts.backoffMs ?? 250;
  }

  /**
   * The verifying agent, made on the first https request: parsing the CA list costs ~0.1 s of CPU, which a
   * plain-http registry on loopback never needs. One context serves every connection: given `ca` instead,
   * Node parses the whole list again for each new socket.
   */
  private agentForTls(): https.Agent {
    if (!this.tlsAgent) {
      const tls = tlsOptionsFor(this.registry, this.opts.env);
      this.clientCert = tls.certFile;
      const secureContext = createSecureContext({ ca: tls.ca, cert: tls.cert, key: tls.key });
      this.tlsAgent = new https.Agent({ keepAlive: true, maxSockets: 8, secureContext, rejectUnauthorized: !this.opts.insecure });
    }
    return this.tlsAgent;
  }

  /**
   * Whether the server answers a TLS hello as a plain-http server does, asked without the CA list (no
   * verification: nothing is sent but the hello, and a server that speaks TLS is then asked again, verified).
   */
  private async speaksPlainHttp(host: string): Promise<boolean> {
    const agent = new https.Agent({ keepAlive: false, rejectUnauthorized: false });
    try {
      await new Promise<void>((resolve, reject) => {
        const r = https.request(`https://${host}/v2/`, { method: 'GET', agent }, (res) => { res.resume(); resolve(); });
        r.on('error', reject);
        r.end();
      });
      return false;
    } catch (err) {
      return PLAIN_HTTP_CODES.has(errCode(err));
    } finally {
      agent.destroy();
    }
  }

  /** Chooses the scheme with GET /v2/ and returns that answer (the auth challenge, if any). */
  async ping(): Promise<HttpResponse> {
    const host = apiHost(this.registry);
    const mayBePlain = this.opts.insecure || isLoopback(this.registry);
    if (mayBePlain && await this.speaksPlainHttp(host)) {
      this.base = `http://${host}`;
      return await this.send({ method: 'GET', url: '/v2/' });
    }
    this.base = `https://${host}`;
    try {
      return await this.send({ method: 'GET', url: '/v2/' });
    } catch (err) {
      const cause = (err as Error).cause ?? err;
      if (!mayBePlain || !PLAIN_HTTP_CODES.has(errCode(cause))) throw err;
      this.base = `http://${host}`;
      return await this.send({ method: 'GET', url: '/v2/' });
    }
  }

  async send(req: HttpRequest): Promise<HttpResponse> {
    const url = req.url.startsWith('/') ? `${this.base}${req.url}` : req.url;
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await this.once(req, url);
        if (!isRetryableStatus(res.status) || attempt >= this.retries) return res;
      } catch (err) {
        if (err instanceof RegistryError) throw err; // already says what is wrong (a certs.d folder dbco cannot use)
        if (!isRetryableError(err) || attempt >= this.retries) {
          throw new RegistryError(this.registry, undefined, undefined, `${req.method} ${new URL(url).pathname}: ${describeNetError(err, this.clientCertHint())}`, { cause: err });
        }
      }
      this.opts.onRetry?.(`${req.method} ${new URL(url).pathname}`, attempt + 1);
      await sleep(this.backoffMs * 2 ** attempt);
    }
  }

  /** What to say when the server refuses the TLS handshake: which certificate went, or where one would go. */
  private clientCertHint(): string {
    if (this.clientCert) return `it refused the client certificate ${this.clientCert} (not signed by a CA it trusts, or expired)`;
    const where = certsDirRoots(this.opts.env).map((root) => `${root}/${this.registry}/`);
    return `it asks for a client certificate and none was found: put client.cert and client.key in ${where.join(' or ') || 'a certs.d folder'}`;
  }

  close(): void {
    this.tlsAgent?.destroy();
    this.httpAgent.destroy();
  }

  private once(req: HttpRequest, url: string): Promise<HttpResponse> {
    const u = new URL(url);
    const lib = u.protocol === 'https:' ? https : http;
    const agent = u.protocol === 'https:' ? this.agentForTls() : this.httpAgent;
    return new Promise<HttpResponse>((resolve, reject) => {
      const r = lib.request(u, { method: req.method, headers: req.headers, agent }, (res) => {
        const parts: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size <= MAX_BODY) parts.push(c);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts), url }));
        res.on('error', reject);
      });
      r.on('error', reject);
      // Headers (and the token in them) go out now, not when the first body bytes are read from disk.
      if (req.body) r.flushHeaders();
      void writeBody(r, req.body?.()).catch((err: unknown) => r.destroy(err as Error));
    });
  }
}

async function writeBody(r: http.ClientRequest, body: AsyncIterable<Uint8Array> | Buffer | undefined): Promise<void> {
  if (body === undefined || Buffer.isBuffer(body)) {
    r.end(body);
    return;
  }
  for await (const chunk of body) {
    if (r.destroyed) return;
    if (!r.write(chunk)) await Promise.race([once(r, 'drain'), once(r, 'close')]);
  }
  r.end();
}

/** TLS alerts a server sends when it wants a client certificate it did not get (or did not like). */
const CLIENT_CERT_ALERT = /alert (bad certificate|certificate required|unknown ca|certificate unknown|handshake failure)/i;

/** One line for a network error; `refusedHandshake` is said when the server's alert is about the client's certificate. */
export function describeNetError(err: unknown, refusedHandshake?: string): string {
  const code = errCode(err);
  // OpenSSL's messages end in a newline and carry file:line noise; the alert's name is what matters.
  const msg = ((err as Error)?.message ?? String(err)).trim().replace(/\s*\n\s*/g, ' ');
  const alert = CLIENT_CERT_ALERT.exec(msg);
  if (alert && refusedHandshake) return `TLS: the registry refused the handshake (alert "${alert[1]!.toLowerCase()}"): ${refusedHandshake}`;
  if (/certificate|self.signed|unable to (get|verify)/i.test(msg) || code.startsWith('ERR_TLS') || code.includes('CERT')) {
    return `TLS: ${msg} (add the registry's CA as /etc/docker/certs.d/HOST:PORT/ca.crt, or use --insecure-registry)`;
  }
  return code && !msg.includes(code) ? `${code}: ${msg}` : msg;
}
