import type { IncomingMessage } from 'node:http';
import type { Entry } from '../../formats/entry.js';
import { readTar } from '../../formats/tar/index.js';
import { DockerError } from '../../errors.js';
import type { Logger } from '../../io/logger.js';
import type { Layer } from '../../rootfs/layer.js';
import { diffSetupLayer } from './setup-diff.js';
import { request, type Engine } from './engine.js';
import { runInContainer, type RunOptions } from './run-container.js';

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

/**
 * Runs the setup scripts in a container of `imageRef` and returns their effect as a layer over `lower`
 * (the same tree the image holds). The container is always removed.
 */
export async function runSetup(engine: Engine, imageRef: string, opts: {
  lower: Entry[]; extensions: string[]; epoch: number; cacheKey: string; spoolDir: string; log?: Logger;
  track?: RunOptions['track'];
}): Promise<Layer> {
  const run = await runInContainer(engine, imageRef, setupCommand(opts.extensions), { user: '0', workdir: '/', labels: { 'dbco.setup': 'true' }, track: opts.track },
    async (id, exitCode) => {
      if (exitCode !== 0) return undefined;
      const exported = await request<IncomingMessage>(engine, 'exporting the setup container', { method: 'GET', path: `/containers/${id}/export`, stream: true });
      return diffSetupLayer(opts.lower, readTar(exported), {
        epoch: opts.epoch, cacheKey: opts.cacheKey, spoolDir: opts.spoolDir,
      });
    });
  for (const line of run.output.split('\n')) if (line.trim()) opts.log?.info(`setup: ${line}`);
  if (run.exitCode !== 0) {
    throw new DockerError(`${engine.name}: setup container exited ${run.exitCode} (is /bin/sh in the image?): ${run.output.trim().slice(-500)}`);
  }
  return run.after!;
}
