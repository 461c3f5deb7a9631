import type { Cache } from '../cache/index.js';
import type { CachedFile } from '../cache/cached-file.js';
import type { Expected, MirrorSource } from '../mirror/types.js';
import type { DepSource } from './resolver.js';

/** '7.2' -> '7.x/x86/tcz', the mirror folder of a release's extensions. */
export function tczDir(release: string, arch: string): string {
  return `${release.split('.')[0]}.x/${arch}/tcz`;
}

export function distDir(release: string, arch: string): string {
  return `${release.split('.')[0]}.x/${arch}/release/distribution_files`;
}

export interface MirrorDepOptions {
  cache: Cache;
  /** Mirror-relative folder of the .tcz files, e.g. '14.x/x86_64/tcz'. */
  dir: string;
  offline?: boolean;
  /**
   * 'fetch': existence is answered by downloading the payload (prepare/fetch want it anyway, and the
   * downloads then overlap the walk). 'probe': a HEAD (http), a stat (folder) or the cache index, so
   * `dbco resolve` does not download payloads.
   */
  mode: 'fetch' | 'probe';
  /** What a payload must hash to (from the lock), by extension name. */
  expect?: (name: string) => Expected | undefined;
  /** 'fetch' mode: each payload as soon as it is verified. */
  onFile?: (name: string, file: CachedFile) => void;
}

/**
 * The walk's view of one or more mirror sources, first source first (an ISO before the mirror): an
 * extension belongs to the first source that has its .tcz, and its .dep is read from that same source.
 */
export class MirrorDeps implements DepSource {
  readonly where: string;
  /** Payloads fetched in 'fetch' mode, by extension name. */
  readonly files = new Map<string, CachedFile>();
  /** The source (index) each extension came from, by name. */
  readonly origin = new Map<string, MirrorSource>();
  private readonly owners = new Map<string, Promise<MirrorSource | null>>();

  constructor(private readonly sources: MirrorSource[], private readonly opts: MirrorDepOptions) {
    this.where = sources.map((s) => s.location).join(' or ');
  }

  rel(name: string): string {
    return `${this.opts.dir}/${name}`;
  }

  exists(name: string): Promise<boolean> {
    return this.owner(name).then((s) => s !== null);
  }

  async depText(name: string): Promise<string | null> {
    // One source: its .dep can be read while the payload is still being checked or downloaded.
    if (this.sources.length === 1) return this.sources[0]!.text(`${this.rel(name)}.dep`);
    const s = await this.owner(name);
    return s ? s.text(`${this.rel(name)}.dep`) : null;
  }

  private owner(name: string): Promise<MirrorSource | null> {
    let p = this.owners.get(name);
    if (!p) {
      p = this.findOwner(name);
      this.owners.set(name, p);
    }
    return p;
  }

  private async findOwner(name: string): Promise<MirrorSource | null> {
    for (const s of this.sources) {
      if (await this.has(s, name)) {
        this.origin.set(name, s);
        return s;
      }
    }
    return null;
  }

  private async has(s: MirrorSource, name: string): Promise<boolean> {
    const rel = this.rel(name);
    if (this.opts.mode === 'fetch') {
      const file = await s.fetch(rel, this.opts.expect?.(name));
      if (file) {
        this.files.set(name, file);
        this.opts.onFile?.(name, file);
      }
      return file !== null;
    }
    return probe(s, rel);
  }
}

/**
 * Whether a payload is on a source without downloading it: the source's own probe (HTTP HEAD with its
 * retries, bound and cached answers; a stat for folders), else a fetch (an ISO: local and cheap).
 */
export async function probe(s: MirrorSource, rel: string): Promise<boolean> {
  if (s.exists) return s.exists(rel);
  return (await s.fetch(rel)) !== null;
}
