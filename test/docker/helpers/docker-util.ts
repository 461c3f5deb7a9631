import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, copyFileSync, symlinkSync, writeFileSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { requireTool } from '../../helpers/env.js';
import { ENGINES, shortRef } from './engines.js';

/** The docker CLI against one engine (DOCKER_HOST), throwing with stderr on failure. */
export function engineCli(host: string) {
  const env = { ...process.env, DOCKER_HOST: host, DOCKER_BUILDKIT: '0' };
  const raw = (args: string[], input?: Buffer | string): Buffer => {
    requireTool('docker');
    const r = spawnSync('docker', args, { input, env, maxBuffer: 1024 * 1024 * 1024 });
    if (r.status !== 0) throw new Error(`docker ${args.join(' ')} at ${host} failed: ${r.stderr.toString()}`);
    return r.stdout;
  };
  const docker = (args: string[], input?: Buffer | string): string => raw(args, input).toString();
  return {
    host,
    env,
    docker,
    dockerRaw: raw,
    /** Every tag the engine lists, short form (no localhost/ or docker.io/library/). */
    imageTags: (): string[] => docker(['images', '--format', '{{.Repository}}:{{.Tag}}']).split('\n').filter(Boolean).map(shortRef).sort(),
    /** IDs of every image, dangling ones included. */
    imageIds: (): string[] => docker(['images', '-a', '--no-trunc', '--format', '{{.ID}}']).split('\n').filter(Boolean),
    removeImages: (...refs: string[]): void => {
      for (const ref of refs) spawnSync('docker', ['rmi', '-f', ref], { env });
    },
  };
}
export type EngineCli = ReturnType<typeof engineCli>;

const defaultCli = engineCli(ENGINES[0]!.host);
/** The default engine (dockerd 20.10): for suites about the engine-independent parts. */
export const docker = defaultCli.docker;
export const dockerRaw = defaultCli.dockerRaw;
export const imageTags = defaultCli.imageTags;
export const removeImages = defaultCli.removeImages;

/**
 * A minimal x86_64 layer from busybox-static: /bin/busybox plus a few applet links, written by GNU tar
 * deterministically. Returns its path, diffId and size.
 */
export function busyboxLayer(dir: string): { path: string; diffId: string; size: number } {
  requireTool('tar');
  const busybox = requireTool('busybox');
  const root = path.join(dir, 'bb-root');
  mkdirSync(path.join(root, 'bin'), { recursive: true });
  mkdirSync(path.join(root, 'etc'), { recursive: true });
  copyFileSync(busybox, path.join(root, 'bin/busybox'));
  for (const applet of ['sh', 'ls', 'cat', 'echo', 'sha256sum']) symlinkSync('busybox', path.join(root, 'bin', applet));
  writeFileSync(path.join(root, 'etc/hello.txt'), 'hello from a dbco test layer\n');
  const tarPath = path.join(dir, 'bb-layer.tar');
  execFileSync('tar', ['--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '--format=posix',
    '--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime', '-C', root, '-cf', tarPath, '.']);
  const bytes = readFileSync(tarPath);
  return { path: tarPath, diffId: `sha256:${createHash('sha256').update(bytes).digest('hex')}`, size: statSync(tarPath).size };
}

/** What Docker adds to every container's exported tree. */
export function dockerManaged(p: string): boolean {
  return ['etc/hosts', 'etc/hostname', 'etc/resolv.conf', 'etc/mtab', '.dockerenv', 'run/.containerenv'].includes(p) || /^(dev|proc|sys)(\/|$)/.test(p);
}
