import { readdirSync, readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import path from 'node:path';
import { RegistryError } from '../../errors.js';

/** Where dockerd and podman look for per-registry CAs and client certs; DBCO_CERTS_DIRS (':'-separated) replaces them. */
export function certsDirRoots(env: NodeJS.ProcessEnv = process.env): string[] {
  const custom = env.DBCO_CERTS_DIRS;
  if (custom !== undefined) return custom.split(':').filter(Boolean);
  return ['/etc/docker/certs.d', '/etc/containers/certs.d'];
}

/** Debian's bundle (update-ca-certificates) as the system's CAs; Node's own list when it is absent. */
const SYSTEM_BUNDLES = ['/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/certs/ca-bundle.crt'];

export interface TlsOptions {
  ca: string[];
  cert?: Buffer;
  key?: Buffer;
  /** Where cert came from, for messages. */
  certFile?: string;
  /** The certs.d folders that applied, for messages. */
  sources: string[];
}

let systemCas: string[] | undefined;

function systemCa(): string[] {
  if (!systemCas) {
    systemCas = [...rootCertificates];
    for (const bundle of SYSTEM_BUNDLES) {
      try {
        systemCas.push(readFileSync(bundle, 'utf8'));
        break;
      } catch {
        // not this distribution's path
      }
    }
  }
  return systemCas;
}

/**
 * dockerd's rules for HOST:PORT/ under each root: every *.crt is a CA; NAME.cert with NAME.key is a
 * client certificate. Podman reads the same layout under /etc/containers/certs.d.
 */
export function tlsOptionsFor(registry: string, env: NodeJS.ProcessEnv = process.env): TlsOptions {
  const out: TlsOptions = { ca: [...systemCa()], sources: [] };
  for (const root of certsDirRoots(env)) {
    const dir = path.join(root, registry);
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch {
      continue;
    }
    out.sources.push(dir);
    for (const name of names) {
      if (name.endsWith('.crt')) out.ca.push(readFileSync(path.join(dir, name), 'utf8'));
      if (name.endsWith('.cert') && !out.cert) {
        const key = path.join(dir, `${name.slice(0, -'.cert'.length)}.key`);
        out.cert = readFileSync(path.join(dir, name));
        try {
          out.key = readFileSync(key);
        } catch {
          // dockerd refuses this layout too ("missing key ... for client certificate ...").
          throw new RegistryError(registry, undefined, undefined, `client certificate ${path.join(dir, name)} has no key beside it (${key})`);
        }
        out.certFile = path.join(dir, name);
      }
    }
  }
  return out;
}
