import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { DbcoError } from '../../errors.js';
import { writeFileAtomic } from '../../cache/atomic.js';

export interface Credentials {
  username: string;
  password: string;
  /** Where they came from, for messages ('~/.docker/config.json', 'docker-credential-pass'). */
  from: string;
}

interface AuthEntry { auth?: string; username?: string; password?: string; identitytoken?: string }
interface ConfigFile { auths?: Record<string, AuthEntry>; credHelpers?: Record<string, string>; credsStore?: string; [k: string]: unknown }

export const dockerConfigPath = (env: NodeJS.ProcessEnv = process.env): string =>
  path.join(env.DOCKER_CONFIG ?? path.join(env.HOME ?? homedir(), '.docker'), 'config.json');

/** podman's file: REGISTRY_AUTH_FILE, else ${XDG_RUNTIME_DIR}/containers/auth.json. */
export function containersAuthPath(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.REGISTRY_AUTH_FILE) return env.REGISTRY_AUTH_FILE;
  return env.XDG_RUNTIME_DIR ? path.join(env.XDG_RUNTIME_DIR, 'containers', 'auth.json') : undefined;
}

/** Docker Hub's credentials live under its v1 URL, as `docker login` writes them. */
const HUB_KEY = 'https://index.docker.io/v1/';
export const configKey = (registry: string): string => (registry === 'docker.io' ? HUB_KEY : registry);

/** 'https://host:5000/v2/', 'host:5000' and Hub's URLs all name the same registry. */
function normalizeKey(key: string): string {
  const bare = key.replace(/^[a-z]+:\/\//, '').replace(/\/.*$/, '');
  return bare === 'index.docker.io' || bare === 'registry-1.docker.io' ? 'docker.io' : bare;
}

async function readConfig(file: string): Promise<ConfigFile | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
  try {
    return JSON.parse(text) as ConfigFile;
  } catch {
    throw new DbcoError('CREDENTIALS', `${file} is not valid JSON`);
  }
}

function fromEntry(entry: AuthEntry, from: string): Credentials | undefined {
  if (entry.auth) {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon > 0) return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1), from };
  }
  if (entry.username && entry.password) return { username: entry.username, password: entry.password, from };
  return undefined;
}

/** The docker-credential-<name> protocol: `get` with the server on stdin, JSON {Username, Secret} out. */
export function runHelper(helper: string, action: 'get' | 'store' | 'erase', input: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(`docker-credential-${helper}`, [action], { timeout: 30_000 }, (err, stdout, stderr) => {
      if (err) {
        const text = `${stdout}${stderr}`.trim();
        reject(Object.assign(new DbcoError('CREDENTIALS', `docker-credential-${helper} ${action}: ${text || err.message}`), { helperOutput: text }));
      } else resolve(stdout);
    });
    child.stdin?.end(input);
  });
}

async function fromHelper(helper: string, registry: string): Promise<Credentials | undefined> {
  let out: string;
  try {
    out = await runHelper(helper, 'get', configKey(registry));
  } catch (err) {
    // The protocol's answer for "nothing stored for this server".
    if (/credentials not found/i.test(String((err as { helperOutput?: string }).helperOutput ?? ''))) return undefined;
    throw err;
  }
  const parsed = JSON.parse(out) as { Username?: string; Secret?: string };
  if (!parsed.Secret) return undefined;
  return { username: parsed.Username ?? '', password: parsed.Secret, from: `docker-credential-${helper}` };
}

/**
 * Credentials for a registry, looked up as docker does, then as podman does: the docker config's
 * credHelpers entry for the host, else its credsStore, else its auths; then containers' auth.json.
 * undefined means anonymous.
 */
export async function findCredentials(registry: string, env: NodeJS.ProcessEnv = process.env): Promise<Credentials | undefined> {
  const dockerFile = dockerConfigPath(env);
  const docker = await readConfig(dockerFile);
  if (docker) {
    const helper = Object.entries(docker.credHelpers ?? {}).find(([k]) => normalizeKey(k) === registry)?.[1];
    if (helper) return fromHelper(helper, registry);
    if (docker.credsStore) {
      const found = await fromHelper(docker.credsStore, registry);
      if (found) return found;
    }
    const entry = Object.entries(docker.auths ?? {}).find(([k]) => normalizeKey(k) === registry)?.[1];
    const creds = entry && fromEntry(entry, dockerFile);
    if (creds) return creds;
  }
  const podmanFile = containersAuthPath(env);
  const podman = podmanFile ? await readConfig(podmanFile) : undefined;
  if (podman && podmanFile) {
    const entry = Object.entries(podman.auths ?? {}).find(([k]) => normalizeKey(k) === registry)?.[1];
    const creds = entry && fromEntry(entry, podmanFile);
    if (creds) return creds;
  }
  return undefined;
}

/**
 * What `docker login` writes: through the credential helper when the config names one for this
 * registry (credHelpers, else credsStore), else base64 user:password under auths. Other keys are kept.
 */
export async function storeCredentials(registry: string, creds: { username: string; password: string }, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const file = dockerConfigPath(env);
  const config = (await readConfig(file)) ?? {};
  const helper = Object.entries(config.credHelpers ?? {}).find(([k]) => normalizeKey(k) === registry)?.[1] ?? config.credsStore;
  const key = configKey(registry);
  if (helper) {
    await runHelper(helper, 'store', JSON.stringify({ ServerURL: key, Username: creds.username, Secret: creds.password }));
    config.auths = { ...config.auths, [key]: {} };
  } else {
    config.auths = { ...config.auths, [key]: { auth: Buffer.from(`${creds.username}:${creds.password}`).toString('base64') } };
  }
  await writeFileAtomic(path.dirname(file), file, `${JSON.stringify(config, null, '\t')}\n`, 0o600);
  return helper ? `docker-credential-${helper}` : file;
}
