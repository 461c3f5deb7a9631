import { createHash } from 'node:crypto';
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

/** How registries that predate OCI media types refuse an OCI manifest PUT. */
export const OCI_REFUSALS = {
  /** distribution before 2.7 (and registries built on it): it knows no handler for the media type. */
  distribution: { status: 400, body: '{"errors":[{"code":"MANIFEST_INVALID","message":"manifest invalid","detail":"unrecognized manifest content type application/vnd.oci.image.manifest.v1+json"}]}' },
  /** ECR before its OCI support (containers/image #584 matches on this). */
  ecr: { status: 400, body: '{"errors":[{"code":"UNSUPPORTED","message":"Invalid JSON syntax"}]}' },
  /** A front that filters on Content-Type. */
  unsupportedMediaType: { status: 415, body: '{"errors":[{"code":"MANIFEST_INVALID","message":"unsupported media type"}]}' },
} as const;

export interface Oci11ProxyOptions {
  /**
   * Act as a distribution spec 1.1 registry: serve GET /v2/<name>/referrers/<digest> (an image index of
   * the manifests pushed through this proxy whose subject is that digest) and answer a PUT of such a
   * manifest with OCI-Subject.
   */
  referrers?: boolean;
  /** Refuse PUTs of OCI manifests and indexes with this answer, as a Docker-schema-2-only registry does. */
  refuseOci?: { status: number; body: string };
  port?: number;
}

export interface Oci11Proxy {
  host: string;
  /** Every request with the status the client got. */
  log: { method: string; path: string; status: number }[];
  close(): Promise<void>;
}

interface Referrer { mediaType: string; digest: string; size: number; artifactType?: string; annotations?: Record<string, string> }

/**
 * A plain-http proxy in front of a plain-http distribution 2.8 that adds what no registry in Debian
 * has: the referrers API, or the refusal of OCI media types. Everything else (blobs, tags, pulls) is the
 * real registry's answer. Referrers are kept in memory: only manifests pushed through this proxy count.
 */
export async function startOci11Proxy(target: string, opts: Oci11ProxyOptions): Promise<Oci11Proxy> {
  const log: Oci11Proxy['log'] = [];
  const referrers = new Map<string, Referrer[]>();
  let host = '';

  const forward = (req: IncomingMessage, res: ServerResponse, entry: { status: number }, body?: Buffer, onDone?: (status: number, headers: Record<string, string | string[] | undefined>) => void): void => {
    const up = request(`http://${target}${req.url}`, { method: req.method, headers: req.headers }, (upRes) => {
      entry.status = upRes.statusCode ?? 0;
      const headers: Record<string, string | string[] | undefined> = { ...upRes.headers };
      if (typeof headers.location === 'string') headers.location = headers.location.replace(`//${target}/`, `//${host}/`);
      onDone?.(entry.status, headers);
      res.writeHead(upRes.statusCode ?? 502, headers);
      upRes.pipe(res);
    });
    up.on('error', () => { entry.status = -1; res.destroy(); });
    if (body) up.end(body);
    else req.pipe(up);
  };

  const server = createServer((req, res) => {
    const entry = { method: req.method ?? '', path: req.url ?? '', status: 0 };
    log.push(entry);
    const url = new URL(req.url ?? '/', 'http://proxy');
    const answer = (status: number, headers: Record<string, string>, body: string): void => {
      entry.status = status;
      res.writeHead(status, { 'content-length': String(Buffer.byteLength(body)), ...headers }).end(body);
    };

    const refs = /^\/v2\/(.+)\/referrers\/(sha256:[0-9a-f]{64})$/.exec(url.pathname);
    if (refs && req.method === 'GET' && opts.referrers) {
      // Spec 1.1: 200 with an image index even when nothing refers to the digest; artifactType filters.
      const wanted = url.searchParams.get('artifactType');
      const list = (referrers.get(`${refs[1]}@${refs[2]}`) ?? []).filter((d) => !wanted || d.artifactType === wanted);
      const headers: Record<string, string> = { 'content-type': OCI_INDEX };
      if (wanted) headers['oci-filters-applied'] = 'artifactType';
      answer(200, headers, JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: list }));
      return;
    }

    const manifest = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(url.pathname);
    if (!manifest || req.method !== 'PUT') {
      forward(req, res, entry);
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const type = String(req.headers['content-type'] ?? '').split(';')[0]!.trim();
      if (opts.refuseOci && (type === OCI_MANIFEST || type === OCI_INDEX)) {
        answer(opts.refuseOci.status, { 'content-type': 'application/json' }, opts.refuseOci.body);
        return;
      }
      let json: { subject?: { digest: string }; artifactType?: string; config?: { mediaType?: string }; annotations?: Record<string, string> } = {};
      try { json = JSON.parse(body.toString('utf8')) as typeof json; } catch { /* the registry will say */ }
      forward(req, res, entry, body, (status, headers) => {
        if (!opts.referrers || status !== 201 || !json.subject) return;
        const key = `${manifest[1]}@${json.subject.digest}`;
        const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`;
        const list = referrers.get(key) ?? [];
        if (!list.some((d) => d.digest === digest)) {
          list.push({ mediaType: type, digest, size: body.length, artifactType: json.artifactType ?? json.config?.mediaType, ...(json.annotations ? { annotations: json.annotations } : {}) });
        }
        referrers.set(key, list);
        headers['oci-subject'] = json.subject.digest;
      });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  host = `127.0.0.1:${(server.address() as { port: number }).port}`;
  return { host, log, close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}
