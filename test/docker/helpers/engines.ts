import { spawnSync } from 'node:child_process';

/**
 * The engines every Docker suite runs against (scripts/start-engines.sh starts the last two). A suite
 * runs once per engine with DOCKER_HOST set to it; an engine that does not answer fails the suite.
 */
export interface TestEngine {
  /** Short name for test titles and tags. */
  name: string;
  host: string;
  /** What `docker version` must report as the server, so a wrong socket cannot pass for another engine. */
  expect: RegExp;
}

export const ENGINES: TestEngine[] = [
  { name: 'docker20', host: process.env.DBCO_TEST_DOCKER20 ?? 'unix:///var/run/docker.sock', expect: /^Docker 20\.10\./ },
  { name: 'docker26', host: process.env.DBCO_TEST_DOCKER26 ?? 'unix:///run/dbco-docker26.sock', expect: /^Docker 2[6-9]\.|^Docker [3-9]\d\./ },
  { name: 'podman', host: process.env.DBCO_TEST_PODMAN ?? 'unix:///run/dbco-podman.sock', expect: /^Podman 4\./ },
];

/** Throws (fails the suite) unless the engine answers and is the one expected. */
export function requireEngine(e: TestEngine): void {
  const r = spawnSync('docker', ['version', '--format', '{{range .Server.Components}}{{.Name}} {{.Version}};{{end}}'], {
    env: { ...process.env, DOCKER_HOST: e.host }, timeout: 30_000,
  });
  const out = r.stdout?.toString() ?? '';
  const server = /Podman Engine (\S+);/.exec(out) ? `Podman ${/Podman Engine (\S+);/.exec(out)![1]}` : /Engine (\S+);/.exec(out) ? `Docker ${/Engine (\S+);/.exec(out)![1]}` : '';
  if (r.status !== 0 || !e.expect.test(server)) {
    throw new Error(`engine ${e.name} at ${e.host} is not there (${server || r.stderr?.toString().trim()}): run scripts/start-engines.sh (CI does)`);
  }
}

/** Podman names short references localhost/NAME; dockerd with containerd docker.io/library/NAME. */
export function shortRef(ref: string): string {
  return ref.replace(/^localhost\//, '').replace(/^docker\.io\/library\//, '').replace(/^docker\.io\//, '');
}
