import { RegistryClient } from './client.js';
import { storeCredentials } from './credentials.js';

/**
 * `docker login`: the credentials must open the registry (GET /v2/ through its auth, basic or a
 * token for no scope), and only then are they stored. Returns where they went.
 */
export async function login(registry: string, creds: { username: string; password: string }, opts: { insecure?: boolean; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  const client = await RegistryClient.connect(registry, { ...opts, credentials: { ...creds, from: 'the command line' } });
  try {
    const res = await client.request(undefined, [], { method: 'GET', url: '/v2/' });
    if (res.status !== 200) throw client.fail(undefined, res, 'login');
  } finally {
    client.close();
  }
  return storeCredentials(registry, creds, opts.env);
}
