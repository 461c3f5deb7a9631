/**
 * What an engine says it is, from GET /version and GET /info. Used to name the engine in messages and in
 * `--json`; never to predict image IDs (those always come from the engine's own answers).
 */
export interface EngineInfo {
  kind: 'docker' | 'podman';
  /** As the engine reports it, e.g. '20.10.24+dfsg1', '26.1.5+dfsg1', '4.3.1'. */
  version: string;
  apiVersion: string;
  /**
   * graphdriver: dockerd's own layer store (image ID = config digest);
   * containerd: dockerd 24+ with the containerd image store (image ID = manifest or index digest);
   * podman: containers/storage.
   */
  store: 'graphdriver' | 'containerd' | 'podman';
  /** Storage driver or snapshotter ('overlay2', 'overlayfs', 'overlay', 'vfs'). */
  driver: string;
}

type Json = Record<string, unknown>;

const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/** The headers of GET /_ping: dockerd says `Server: Docker/26.1.5 (linux)`, Podman `Libpod/4.3.1`. */
export interface PingHeaders {
  server?: string;
  apiVersion?: string;
  libpodApiVersion?: string;
}

/** What the ping says; undefined when it does not say (then GET /version is asked). */
export function kindFromPing(ping: PingHeaders): Pick<EngineInfo, 'kind' | 'version' | 'apiVersion'> | undefined {
  const server = /^(Docker|Libpod)\/(\S+)/.exec(ping.server ?? '');
  if (ping.libpodApiVersion || server?.[1] === 'Libpod') {
    return { kind: 'podman', version: server?.[2] ?? ping.libpodApiVersion ?? 'unknown version', apiVersion: ping.apiVersion ?? '' };
  }
  if (server) return { kind: 'docker', version: server[2]!, apiVersion: ping.apiVersion ?? '' };
  return undefined;
}

/** The same from GET /version's body (Podman lists a 'Podman Engine' component). */
export function kindFromVersion(version: Json): Pick<EngineInfo, 'kind' | 'version' | 'apiVersion'> {
  const components = Array.isArray(version.Components) ? (version.Components as Json[]) : [];
  const podman = components.some((c) => /podman/i.test(str(c.Name)));
  return { kind: podman ? 'podman' : 'docker', version: str(version.Version) || 'unknown version', apiVersion: str(version.ApiVersion) };
}

/** The image store from GET /info: dockerd's containerd store reports a snapshotter driver-type. */
export function identifyEngine(kind: Pick<EngineInfo, 'kind' | 'version' | 'apiVersion'>, info: Json = {}): EngineInfo {
  const driverStatus = Array.isArray(info.DriverStatus) ? (info.DriverStatus as unknown[][]) : [];
  const containerd = driverStatus.some((pair) => Array.isArray(pair) && str(pair[1]).startsWith('io.containerd.snapshotter'));
  return {
    ...kind,
    store: kind.kind === 'podman' ? 'podman' : containerd ? 'containerd' : 'graphdriver',
    driver: str(info.Driver),
  };
}

/** 'Docker 20.10.24+dfsg1 (overlay2)', 'Docker 26.1.5 (containerd image store, overlayfs)', 'Podman 4.3.1'. */
export function describeEngine(info: EngineInfo): string {
  if (info.kind === 'podman') return `Podman ${info.version} (compat API${info.driver ? `, ${info.driver}` : ''})`;
  const store = info.store === 'containerd' ? `containerd image store${info.driver ? `, ${info.driver}` : ''}` : info.driver || 'graph driver';
  return `Docker ${info.version} (${store})`;
}
