import type { Entry } from '../../formats/entry.js';
import { readTar } from '../../formats/tar/index.js';
import { DockerError } from '../../errors.js';
import type { Logger } from '../../io/logger.js';
import type { Layer } from '../../rootfs/layer.js';
import { diffSetupLayer } from './setup-diff.js';
import type { Engine } from './engine.js';

/**
 * What tce-load does after installing extensions, in one shell: ldconfig once, then each extension's
 * executable /usr/local/tce.installed/NAME in install order, as root. Failures are reported, not fatal,
 * as with tce-load. Names come as positional parameters, never spliced into the script.
 */
const SETUP_SCRIPT = [
  '[ -x /sbin/ldconfig ] && /sbin/ldconfig 2>/dev/null',
  'for n in "$@"; do',
  '  f=/usr/local/tce.installed/$n',
  '  if [ -f "$f" ] && [ -x "$f" ]; then echo "dbco-setup: $n"; "$f" || echo "dbco-setup: $n exited $?"; fi',
  'done',
  'exit 0',
].join('\n');

export function setupCommand(extensions: string[]): string[] {
  return ['/bin/sh', '-c', SETUP_SCRIPT, 'dbco-setup', ...extensions.map((e) => e.replace(/\.tcz$/, ''))];
}

/** Docker's multiplexed log frames (8-byte header: stream, 0, 0, 0, size BE32) to text. */
function demux(buf: Buffer): string {
  const out: Buffer[] = [];
  let off = 0;
  while (off + 8 <= buf.length) {
    const size = buf.readUInt32BE(off + 4);
    out.push(buf.subarray(off + 8, off + 8 + size));
    off += 8 + size;
  }
  return Buffer.concat(out).toString();
}

/**
 * Runs the setup scripts in a container of `imageRef` and returns their effect as a layer over `lower`
 * (the same tree the image holds). The container is always removed.
 */
export async function runSetup(engine: Engine, imageRef: string, opts: {
  lower: Entry[]; extensions: string[]; epoch: number; cacheKey: string; spoolDir: string; log?: Logger;
}): Promise<Layer> {
  const { docker, where } = engine;
  let container;
  try {
    container = await docker.createContainer({
      Image: imageRef,
      Entrypoint: [],
      Cmd: setupCommand(opts.extensions),
      User: '0',
      WorkingDir: '/',
      NetworkDisabled: true,
      Labels: { 'dbco.setup': 'true' },
      HostConfig: { NetworkMode: 'none' },
    });
  } catch (err) {
    throw new DockerError(`creating the setup container from ${imageRef} at ${where}: ${(err as Error).message}`, { cause: err });
  }
  try {
    await container.start();
    const result = (await container.wait()) as { StatusCode: number };
    const logs = demux((await container.logs({ stdout: true, stderr: true, follow: false })) as unknown as Buffer);
    for (const line of logs.split('\n')) if (line.trim()) opts.log?.info(`setup: ${line}`);
    if (result.StatusCode !== 0) {
      throw new DockerError(`setup container exited ${result.StatusCode} (is /bin/sh in the image?): ${logs.trim().slice(-500)}`);
    }
    const tar = (await container.export()) as unknown as AsyncIterable<Uint8Array>;
    return await diffSetupLayer(opts.lower, readTar(tar), { epoch: opts.epoch, cacheKey: opts.cacheKey, spoolDir: opts.spoolDir });
  } finally {
    await container.remove({ force: true }).catch(() => undefined);
  }
}
