export type { Layer, Rootfs } from './layer.js';
export { assembleRootfs, DEFAULT_MAX_LAYERS, type AssembleOptions } from './assemble.js';
export { buildEpoch } from './epoch.js';
export { flattenLayers } from './flatten.js';
export { materializeLayer, type LayerBlob } from './layer-tar.js';
export { writeInitramfs } from './initramfs.js';
export { SETUP_WRAPPER_PATH, SETUP_DONE_MARKER } from './setup-wrapper.js';
export { TCE_INSTALLED_DIR, SETUP_LIST_PATH, TC_UID, STAFF_GID, type SetupMode } from './config-layer.js';
export { unpackedBase } from './base-layer.js';
