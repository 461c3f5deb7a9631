import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';

/** Where and how to reach an engine: a unix socket, or TCP with or without TLS. */
export interface Endpoint {
  /** As the user wrote it (DOCKER_HOST), for messages. */
  where: string;
  socketPath?: string;
  host?: string;
  port?: number;
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer; verify: boolean };
}

export const DEFAULT_SOCKET = '/var/run/docker.sock';

/** Thrown for a DOCKER_HOST dbco cannot use; the caller names the variable. */
export class EndpointError extends Error {}

/**
 * DOCKER_HOST's forms as the docker CLI reads them: unix:///path, tcp://host[:port] (2375, or 2376 with
 * TLS). TLS as the CLI: DOCKER_TLS_VERIFY (non-empty) verifies the engine against DOCKER_CERT_PATH/ca.pem;
 * DOCKER_TLS alone encrypts without verifying; cert.pem and key.pem there are sent when present.
 */
export function endpointFor(host: string | undefined, env: NodeJS.ProcessEnv = process.env): Endpoint {
  if (!host) return { where: `unix://${DEFAULT_SOCKET}`, socketPath: DEFAULT_SOCKET };
  if (host.startsWith('unix://')) {
    const socketPath = host.slice('unix://'.length);
    if (!socketPath) throw new EndpointError('unix:// needs a socket path');
    return { where: host, socketPath };
  }
  const scheme = /^([a-z]+):\/\//.exec(host)?.[1];
  if (scheme !== 'tcp' && scheme !== 'http' && scheme !== 'https') {
    throw new EndpointError(`${scheme ? `${scheme}://` : 'a host without a scheme'} is not supported (use unix:///path or tcp://host:port)`);
  }
  const verify = Boolean(env.DOCKER_TLS_VERIFY);
  const secure = verify || Boolean(env.DOCKER_TLS) || scheme === 'https';
  let url: URL;
  try {
    url = new URL(host.replace(/^[a-z]+:/, 'http:'));
  } catch {
    throw new EndpointError('not a URL');
  }
  const endpoint: Endpoint = { where: host, host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port) || (secure ? 2376 : 2375) };
  if (secure) {
    const dir = env.DOCKER_CERT_PATH || path.join(homedir(), '.docker');
    const read = (name: string, required: boolean): Buffer | undefined => {
      try {
        return readFileSync(path.join(dir, name));
      } catch (err) {
        if (required) throw new EndpointError(`DOCKER_TLS_VERIFY is set but ${path.join(dir, name)} cannot be read: ${(err as NodeJS.ErrnoException).code ?? err}`);
        return undefined;
      }
    };
    endpoint.tls = { ca: read('ca.pem', verify), cert: read('cert.pem', false), key: read('key.pem', false), verify };
  }
  return endpoint;
}
