/**
 * `dbco test RECIPE --docker`: builds (or finds) the recipe's image as `dbco image --docker` does, then
 * runs each check with `sh -c` in a fresh container of it, as the image's user.
 */
import type { Logger } from '../../io/logger.js';
import type { CheckSpec } from '../../recipe/schema.js';
import { SETUP_WRAPPER_PATH } from '../../rootfs/setup-wrapper.js';
import { evaluateCheck, type CheckResult } from '../checks/evaluate.js';
import { runDockerImage, type DockerImageOptions } from './build.js';
import { connectEngine } from './engine.js';
import { runInContainer } from './run-container.js';

export async function runDockerChecks(recipePath: string, checks: readonly CheckSpec[], opts: DockerImageOptions & { log: Logger; setup?: string }): Promise<CheckResult[]> {
  const image = await runDockerImage(recipePath, opts);
  opts.log.info(`image ${image.id} (${image.tag})`);
  const engine = await connectEngine();
  const results: CheckResult[] = [];
  for (const check of checks) {
    // With setup 'boot' the setup scripts run from the entrypoint wrapper: the checks see them done.
    const cmd = ['/bin/sh', '-c', check.run];
    const r = await runInContainer(engine, image.id, opts.setup === 'boot' ? [SETUP_WRAPPER_PATH, ...cmd] : cmd, { labels: { 'dbco.test': 'true' } });
    results.push(evaluateCheck(check, { stdout: r.stdout, exit: r.exitCode }));
  }
  return results;
}
