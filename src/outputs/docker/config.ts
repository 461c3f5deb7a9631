import type { Recipe } from '../../recipe/schema.js';
import { canonicalJson, sha256Hex } from '../../canonical-json.js';

/** TC's own PATH (from /etc/profile), so `docker run IMAGE cmd` finds what a TC login shell would. */
export const TC_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface ConfigLayer {
  /** Layer id as in Rootfs ('base', 'ext:openssh.tcz', 'config', 'setup'). */
  id: string;
  /** sha256:hex of the uncompressed layer tar. */
  diffId: string;
}

export interface ImageConfigInput {
  recipe: Recipe;
  lockDigest: string;
  /** Seconds since the epoch; `created` and every history entry use it. */
  epoch: number;
  layers: ConfigLayer[];
  /** For setup 'boot': the wrapper script path, placed before the recipe's entrypoint. */
  setupWrapper?: string;
}

export interface ImageConfig {
  /** The exact bytes stored as the config blob. */
  bytes: Buffer;
  /** sha256:hex of `bytes`: Docker's image ID. */
  id: string;
}

export function dockerArch(arch: Recipe['arch']): '386' | 'amd64' {
  return arch === 'x86' ? '386' : 'amd64';
}

export function rfc3339(epoch: number): string {
  return new Date(epoch * 1000).toISOString().replace(/\.000Z$/, 'Z');
}

export function buildImageConfig(input: ImageConfigInput): ImageConfig {
  const { recipe } = input;
  const image = recipe.image ?? {};
  const created = rfc3339(input.epoch);

  const env = new Map<string, string>([['PATH', TC_PATH]]);
  for (const [k, v] of Object.entries(image.env ?? {})) env.set(k, v);

  const labels: Record<string, string> = {
    ...(image.labels ?? {}),
    'org.opencontainers.image.title': recipe.name,
    'dbco.tc.release': recipe.release,
    'dbco.tc.arch': recipe.arch,
    'dbco.lock.digest': input.lockDigest,
  };

  let entrypoint = image.entrypoint;
  if (input.setupWrapper) entrypoint = [input.setupWrapper, ...(image.entrypoint ?? [])];
  // Without an entrypoint, a TC image opens a shell as the official images do.
  const cmd = image.cmd ?? (image.entrypoint ? undefined : ['/bin/sh']);

  const config = {
    created,
    architecture: dockerArch(recipe.arch),
    os: 'linux',
    config: {
      Env: [...env].map(([k, v]) => `${k}=${v}`),
      Entrypoint: entrypoint,
      Cmd: cmd,
      User: image.user,
      WorkingDir: image.workdir,
      Labels: labels,
    },
    rootfs: { type: 'layers', diff_ids: input.layers.map((l) => l.diffId) },
    history: input.layers.map((l) => ({ created, created_by: `dbco layer ${l.id}` })),
  };
  const bytes = Buffer.from(canonicalJson(config));
  return { bytes, id: `sha256:${sha256Hex(bytes)}` };
}
