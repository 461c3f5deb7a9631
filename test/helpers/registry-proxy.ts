import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

/**
 * What the proxy does with one request: pass it on, answer with a status itself, call `midBody` after
 * some body bytes, or hold it until `holdUntil` settles and then pass it on.
 */
export type ProxyAction = undefined | { status: number } | { afterBytes: number; midBody: () => void | Promise<void> } | { holdUntil: Promise<void> };

export interface RegistryProxy {
  host: string;
  /** Every request with the status the client got. */
  log: { method: string; path: string; status: number }[];
  close(): Promise<void>;
}

/**
 * A plain-http proxy in front of a plain-http test registry, to count requests and inject faults
 * (a 500 on one blob, the registry killed while an upload is on the wire).
 */
export async function startRegistryProxy(target: string, decide: (req: IncomingMessage) => ProxyAction): Promise<RegistryProxy> {
  const log: RegistryProxy['log'] = [];
  const server: Server = createServer((req, res) => {
    const entry = { method: req.method ?? '', path: req.url ?? '', status: 0 };
    log.push(entry);
    const action = decide(req);
    if (action && 'status' in action) {
      entry.status = action.status;
      req.resume();
      res.writeHead(action.status, { 'content-type': 'application/json' }).end('{"errors":[{"code":"UNKNOWN","message":"injected by the test proxy"}]}');
      return;
    }
    if (action && 'holdUntil' in action) {
      req.pause();
      void action.holdUntil.then(() => pass(req, res, entry, undefined));
      return;
    }
    pass(req, res, entry, action);
  });
  const pass = (req: IncomingMessage, res: ServerResponse, entry: RegistryProxy['log'][number], action: { afterBytes: number; midBody: () => void | Promise<void> } | undefined): void => {
    const up = request(`http://${target}${req.url}`, { method: req.method, headers: req.headers }, (upRes) => {
      entry.status = upRes.statusCode ?? 0;
      const headers = { ...upRes.headers };
      // Upload locations point at the registry; keep the client talking through the proxy.
      if (typeof headers.location === 'string') headers.location = headers.location.replace(`//${target}/`, `//${host}/`);
      res.writeHead(upRes.statusCode ?? 502, headers);
      upRes.pipe(res);
    });
    up.on('error', () => { entry.status = -1; res.destroy(); });
    let seen = 0;
    let fired = false;
    req.on('data', (c: Buffer) => {
      seen += c.length;
      if (action && !fired && seen >= action.afterBytes) {
        fired = true;
        void Promise.resolve(action.midBody()).then(() => { up.destroy(); res.destroy(); });
      }
    });
    req.pipe(up);
    req.resume();
  };
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const host = `127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    host, log,
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}
