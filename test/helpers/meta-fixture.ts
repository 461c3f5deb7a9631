import { cpSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { Cache } from '../../src/cache/index.js';
import { openMirror } from '../../src/mirror/index.js';
import { faultServer, type FaultServer } from './fault-server.js';
import { sharedMirror, tempDir } from './env.js';

/** Short retries, so that a refused answer is asked again within a test's time. */
export const META_RETRY = { retries: 3, baseDelayMs: 5, maxDelayMs: 20, stallMs: 400 };

export interface MetaFixture {
  /** The test's folder (the mirror copy is in it). */
  dir: string;
  /** The mirror copy the server serves: the truth a stored answer is compared with. */
  root: string;
  server: FaultServer;
  /** A fresh cache folder for each test. */
  cacheDir: string;
  open(offline?: boolean): ReturnType<typeof openMirror>;
  truth(rel: string): string;
  /** A new server over the same folder (drops every override and script). */
  restart(): Promise<void>;
}

/**
 * The metadata store's suites: a fault server over a copy of one folder of the shared mirror, and an
 * empty cache for every test. Call inside a describe block (it registers the hooks).
 */
export function metaFixture(mirrorDir: string, prefix: string): MetaFixture {
  const t = tempDir(prefix);
  const f: MetaFixture = {
    dir: t.dir,
    root: path.join(t.dir, 'mirror'),
    server: undefined as unknown as FaultServer,
    cacheDir: '',
    open: (offline = false) => openMirror(f.server.url, { cache: new Cache(f.cacheDir), retry: META_RETRY, tty: false, offline }),
    truth: (rel) => readFileSync(path.join(f.root, rel), 'utf8'),
    restart: async () => {
      await f.server?.close();
      f.server = await faultServer(f.root);
    },
  };
  beforeAll(() => { cpSync(path.join(sharedMirror(), mirrorDir), path.join(f.root, mirrorDir), { recursive: true }); });
  beforeEach(async () => {
    await f.restart();
    f.cacheDir = path.join(t.dir, `cache-${Math.random().toString(36).slice(2)}`);
  });
  afterAll(async () => { await f.server.close(); t.cleanup(); });
  return f;
}
