/**
 * Version of the way dbco turns inputs into layers. Part of every layer's cacheKey: bump it whenever a
 * change here would change a layer's entries or tar bytes, so stale cached layers are never reused.
 */
export const LAYER_FORMAT = 'v2';
