import { createHash } from 'node:crypto';

/**
 * Canonical JSON (keys sorted at every level, undefined dropped): image IDs and lock digests are
 * sha256 of these bytes, so the same inputs must serialize the same whatever order objects were built
 * in. `indent` is for files people read (the lock); digests of configs use none.
 */
export function canonicalJson(value: unknown, indent?: number): string {
  return JSON.stringify(sortKeys(value), null, indent);
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = sortKeys(v);
    }
    return out;
  }
  return value;
}

export function sha256Hex(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}
