import type { IncomingMessage } from 'node:http';
import { negotiateVersion } from './api-version.js';
import type { Endpoint } from './endpoint.js';
import { readBody, send, queryString, type Call } from './transport.js';

/** The engine refused a call: its status code and its own message ({"message": ...}). */
export class ApiError extends Error {
  constructor(readonly statusCode: number, readonly call: string, readonly engineMessage: string) {
    super(`${engineMessage} (HTTP ${statusCode} from ${call})`);
  }
}

const OK = [200, 201, 204];

/** 'POST /images/sha256:ab12/tag', readable (paths are sent percent-encoded). */
const callName = (call: Call): string => `${call.method} ${decodeURIComponent(call.path)}`;

/**
 * The Docker Engine API (dockerd, and Podman's compatible API) over node:http. Every call goes to
 * /v<version>/path once the version is settled by `negotiate` (unversioned before: /_ping and /version
 * are answered in every version).
 */
export class EngineApi {
  version: string | undefined;

  constructor(readonly endpoint: Endpoint) {}

  /** Settles the API version from what the engine said (its ping's API-Version header). */
  negotiate(serverVersion: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
    this.version = negotiateVersion(serverVersion, env);
    return this.version;
  }

  private pathOf(call: Call): string {
    return `${this.version ? `/v${this.version}` : ''}${call.path}${queryString(call.query)}`;
  }

  /** The response, once its status is one of `ok`; else an ApiError carrying the engine's message. */
  async stream(call: Call, ok = OK): Promise<IncomingMessage> {
    const res = await send(this.endpoint, this.pathOf(call), call);
    if (ok.includes(res.statusCode ?? 0)) return res;
    const body = (await readBody(res).catch(() => Buffer.alloc(0))).toString();
    let message = body.trim();
    try {
      message = (JSON.parse(body) as { message?: string }).message?.trim() || message;
    } catch { /* not JSON: the text as it came */ }
    throw new ApiError(res.statusCode ?? 0, callName(call), message || res.statusMessage || 'no message');
  }

  /** The response body as JSON (undefined for an empty body, e.g. 204). */
  async json<T>(call: Call, ok = OK): Promise<T> {
    const res = await this.stream(call, ok);
    const body = (await readBody(res)).toString();
    if (!body.trim()) return undefined as T;
    try {
      return JSON.parse(body) as T;
    } catch {
      throw new ApiError(res.statusCode ?? 0, callName(call), `answered with something that is not JSON: ${JSON.stringify(body.slice(0, 200))}`);
    }
  }

  /** The whole body as bytes (container logs). */
  async bytes(call: Call, ok = OK): Promise<Buffer> {
    return readBody(await this.stream(call, ok));
  }
}
