import type { Entry } from '../formats/entry.js';

/**
 * One layer of the assembled rootfs: entries sorted by path, each pointing lazily into its source
 * archive (apko tarfs style) rather than holding a copy. Docker gets one tar per layer; the disk's
 * initramfs is the same layers flattened (later layers win, whiteouts delete).
 */
export interface Layer {
  /** Stable name: 'base', 'ext:openssh.tcz' (or 'ext:a.tcz+b.tcz' when merged under the layer budget), 'config', 'setup'. */
  id: string;
  entries: Entry[];
  /** Paths this layer deletes from the layers below (OCI whiteouts). */
  whiteouts?: string[];
  /**
   * Identity of the layer's content independent of the recipe it is built in: e.g. sha256 of the
   * tcz plus the layer format version. Equal keys give byte-identical layer tars.
   */
  cacheKey: string;
}

export interface Rootfs {
  arch: 'x86' | 'x86_64';
  layers: Layer[];
  /**
   * Absolute paths of the extensions' executable /usr/local/tce.installed scripts in install order:
   * what TC runs after `ldconfig` once the extensions are loaded (tce-setup's /tmp/setup.lst).
   */
  setupScripts?: string[];
}
