import type { Logger } from '../../io/logger.js';
import { removeReference, request, type Engine } from './engine.js';
import { LABEL_INTERNAL, LABEL_OWNER, internalTagOf, ownerAlive, parseOwner } from './owner.js';

interface ListedImage { Id: string; RepoTags?: string[] | null }
interface ListedContainer { Id: string; Image?: string; Labels?: Record<string, string> | null }

/**
 * Removes what dead dbco runs left in the engine (kill -9 between creating an object and removing it):
 * dbco-internal tags whose owner is gone, with the images only they held; labelled containers of dead
 * owners; untagged intermediate images (dbco.partial) of dbco before owners. Objects of live runs and of
 * other hosts are left alone. Never fails the build: a leftover is clutter, not an error.
 */
export async function removeLeftovers(engine: Engine, log?: Logger): Promise<{ refs: string[]; containers: string[] }> {
  const removed = { refs: [] as string[], containers: [] as string[] };
  try {
    const containers = await request<ListedContainer[]>(engine, 'listing containers', {
      method: 'GET', path: '/containers/json', query: { all: true, filters: JSON.stringify({ label: [LABEL_INTERNAL] }) },
    });
    const legacy = await request<ListedContainer[]>(engine, 'listing containers', {
      method: 'GET', path: '/containers/json', query: { all: true, filters: JSON.stringify({ label: ['dbco.setup=true'] }) },
    });
    for (const c of [...containers, ...legacy.filter((l) => !containers.some((c2) => c2.Id === l.Id))]) {
      const token = c.Labels?.[LABEL_OWNER] ?? (c.Image ? internalTagOf(c.Image) : undefined);
      const owner = token ? parseOwner(token) : undefined;
      if (!owner || ownerAlive(owner)) continue;
      await request(engine, `removing leftover container ${c.Id.slice(0, 12)}`, {
        method: 'DELETE', path: `/containers/${c.Id}`, query: { force: true, v: true }, ok: [200, 204, 404],
      });
      removed.containers.push(c.Id);
    }
    // Containers first: an image a container uses cannot be removed.
    const images = await request<ListedImage[]>(engine, 'listing images', { method: 'GET', path: '/images/json' });
    for (const img of images) {
      for (const ref of img.RepoTags ?? []) {
        const tag = internalTagOf(ref);
        const owner = tag ? parseOwner(tag) : undefined;
        if (!owner || ownerAlive(owner)) continue;
        await removeReference(engine, ref);
        removed.refs.push(ref);
      }
    }
    const partials = await request<ListedImage[]>(engine, 'listing images', {
      method: 'GET', path: '/images/json', query: { filters: JSON.stringify({ dangling: ['true'], label: ['dbco.partial=true'] }) },
    });
    for (const img of partials) {
      await removeReference(engine, img.Id).catch(() => undefined);
      removed.refs.push(img.Id);
    }
  } catch (err) {
    log?.warn(`could not remove what earlier dbco runs left in the engine: ${(err as Error).message}`);
  }
  const n = removed.refs.length + removed.containers.length;
  if (n > 0) log?.info(`removed ${n} object(s) left in the engine by dbco runs that did not finish`);
  return removed;
}
