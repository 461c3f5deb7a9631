import { RegistryError } from '../../errors.js';
import { Auth } from './auth.js';
import { findCredentials, type Credentials } from './credentials.js';
import { Transport, type HttpRequest, type HttpResponse, type TransportOptions } from './http.js';

export interface ClientOptions extends TransportOptions {
  /** Given: these, not the config files' (login checks them this way). null: anonymous. */
  credentials?: Credentials | null;
}

export const pushScope = (repository: string): string => `repository:${repository}:pull,push`;
export const pullScope = (repository: string): string => `repository:${repository}:pull`;

/** The registry's own error list (distribution spec: {"errors":[{"code","message"}]}), as one phrase. */
export function registryErrors(res: HttpResponse): string {
  try {
    const body = JSON.parse(res.body.toString('utf8')) as { errors?: { code?: string; message?: string; detail?: unknown }[] };
    const list = (body.errors ?? []).map((e) => [e.code, e.message].filter(Boolean).join(': ')).filter(Boolean);
    if (list.length) return list.join('; ');
  } catch {
    // not JSON: fall through to the status text
  }
  return '';
}

const STATUS_HINT: Record<number, string> = {
  401: 'unauthorized',
  403: 'denied: these credentials may not push here',
  404: 'name unknown or not found',
  405: 'method not allowed: the registry may be read-only or a pull-through cache',
  413: 'too large: the registry (or a proxy before it) refuses a body this big',
  416: 'range not satisfiable',
};

/** A connected registry: transport (scheme, TLS, retries) plus auth, and errors that name registry, repository, status. */
export class RegistryClient {
  private constructor(readonly transport: Transport, readonly auth: Auth, readonly credentials: Credentials | undefined) {}

  get registry(): string {
    return this.transport.registry;
  }

  static async connect(registry: string, opts: ClientOptions = {}): Promise<RegistryClient> {
    const transport = new Transport(registry, opts);
    try {
      const credentials = opts.credentials === undefined ? await findCredentials(registry, opts.env) : opts.credentials ?? undefined;
      const client = new RegistryClient(transport, new Auth(transport, credentials), credentials);
      const res = await transport.ping();
      if (res.status === 401) client.auth.refused(res.headers['www-authenticate'], [], false);
      else if (res.status !== 200) {
        throw new RegistryError(registry, undefined, res.status, `GET /v2/ answered ${res.status}: not an OCI distribution registry? ${registryErrors(res)}`);
      }
      return client;
    } catch (err) {
      transport.close();
      throw err;
    }
  }

  /** Sends with auth; on a 401 learns the challenge (or renews a refused token) and tries once more. */
  async request(repository: string | undefined, scopes: string[], req: HttpRequest): Promise<HttpResponse> {
    for (let attempt = 0; ; attempt++) {
      const authorization = await this.auth.header(scopes, repository);
      const res = await this.transport.send({ ...req, headers: { ...req.headers, ...(authorization ? { authorization } : {}) } });
      if (res.status !== 401 || attempt > 0) return res;
      if (!this.auth.refused(res.headers['www-authenticate'], scopes, authorization !== undefined)) return res;
    }
  }

  /** The error for an unexpected answer: registry, repository, status, what the registry said, and a hint. */
  fail(repository: string | undefined, res: HttpResponse, what: string): RegistryError {
    const said = registryErrors(res);
    let hint = STATUS_HINT[res.status] ?? '';
    if (res.status === 401) {
      const c = this.auth.challenge;
      hint = this.credentials
        ? `unauthorized: the registry refused ${this.credentials.username}'s credentials (from ${this.credentials.from})`
        : `unauthorized: no credentials for ${this.registry} (dbco login ${this.registry})`;
      if (c?.realm) hint += `; it asked for ${c.scheme} auth, realm "${c.realm}"`;
    }
    return new RegistryError(this.registry, repository, res.status, `${what}: ${[hint, said].filter(Boolean).join(': ')}`);
  }

  close(): void {
    this.transport.close();
  }
}
