import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import type { Endpoint } from './endpoint.js';

export interface Call {
  method: 'GET' | 'POST' | 'DELETE' | 'HEAD';
  /** Without the /vX.Y prefix; the client adds it. */
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  /** JSON (an object), bytes, or a stream sent chunked (an image archive). */
  body?: Readable | Buffer | object;
  contentType?: string;
  signal?: AbortSignal;
}

export function queryString(query: Call['query']): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) params.set(k, String(v));
  const s = params.toString();
  return s ? `?${s}` : '';
}

/**
 * Sends one request and resolves with the response as soon as its headers arrive (the body is the
 * caller's to read). A connection per call: a unix socket costs nothing to open, and no idle socket is
 * left to keep the process alive.
 */
export function send(endpoint: Endpoint, fullPath: string, call: Call): Promise<http.IncomingMessage> {
  const headers: Record<string, string> = { host: endpoint.socketPath ? 'docker' : `${endpoint.host}:${endpoint.port}` };
  let payload: Buffer | Readable | undefined;
  if (call.body !== undefined) {
    if (Buffer.isBuffer(call.body)) payload = call.body;
    else if (typeof (call.body as Readable).pipe === 'function') payload = call.body as Readable;
    else payload = Buffer.from(JSON.stringify(call.body));
    // A stream is an image archive (the only one dbco sends); anything else here is JSON or bytes.
    headers['content-type'] = call.contentType ?? (Buffer.isBuffer(payload) && payload === call.body ? 'application/octet-stream' : payload === call.body ? 'application/x-tar' : 'application/json');
    if (Buffer.isBuffer(payload)) headers['content-length'] = String(payload.length);
  }
  const options: https.RequestOptions = {
    method: call.method, path: fullPath, headers, agent: false, signal: call.signal,
    ...(endpoint.socketPath ? { socketPath: endpoint.socketPath } : { host: endpoint.host, port: endpoint.port }),
  };
  if (endpoint.tls) {
    Object.assign(options, { ca: endpoint.tls.ca, cert: endpoint.tls.cert, key: endpoint.tls.key, rejectUnauthorized: endpoint.tls.verify });
  }
  return new Promise((resolve, reject) => {
    const req = (endpoint.tls ? https : http).request(options, resolve);
    req.on('error', reject);
    if (payload === undefined) req.end();
    else if (Buffer.isBuffer(payload)) req.end(payload);
    else {
      payload.on('error', (err) => req.destroy(err));
      payload.pipe(req);
    }
  });
}

/** The whole body of a response. */
export async function readBody(res: AsyncIterable<Buffer | string>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(typeof c === 'string' ? Buffer.from(c) : c);
  return Buffer.concat(chunks);
}
