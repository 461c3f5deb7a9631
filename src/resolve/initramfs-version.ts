import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { readCpio } from '../formats/cpio/index.js';

/** `lib/modules/<version>` among an initramfs's paths: the version its kernel modules were built for. */
export function moduleVersionFromPath(p: string): string | null {
  const m = /^\/?(?:usr\/)?lib\/modules\/([^/]+)(?:\/|$)/.exec(p);
  return m ? m[1]! : null;
}

/**
 * The kernel version a base initramfs (gzip'd cpio) carries modules for, or undefined when it has none
 * (TC's rootfs64.gz without modules). Stops reading at the first match.
 */
export async function initramfsKernelVersion(file: string): Promise<string | undefined> {
  const stream = createReadStream(file).pipe(createGunzip());
  try {
    for await (const { entry } of readCpio(stream)) {
      const v = moduleVersionFromPath(entry.path);
      if (v) return v;
    }
    return undefined;
  } finally {
    stream.destroy();
  }
}
