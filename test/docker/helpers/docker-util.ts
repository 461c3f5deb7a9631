import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, copyFileSync, symlinkSync, writeFileSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { requireTool } from '../../helpers/env.js';

/** `docker ...`, throwing with stderr on failure. */
export function docker(args: string[], input?: Buffer | string): string {
  requireTool('docker');
  const r = spawnSync('docker', args, { input, maxBuffer: 512 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`docker ${args.join(' ')} failed: ${r.stderr.toString()}`);
  return r.stdout.toString();
}

export function dockerRaw(args: string[]): Buffer {
  const r = spawnSync('docker', args, { maxBuffer: 1024 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`docker ${args.join(' ')} failed: ${r.stderr.toString()}`);
  return r.stdout;
}

export function imageTags(): string[] {
  return docker(['images', '--format', '{{.Repository}}:{{.Tag}}']).split('\n').filter(Boolean).sort();
}

export function removeImages(...refs: string[]): void {
  for (const ref of refs) spawnSync('docker', ['rmi', '-f', ref]);
}

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
  return ['etc/hosts', 'etc/hostname', 'etc/resolv.conf', 'etc/mtab', '.dockerenv'].includes(p) || /^(dev|proc|sys)(\/|$)/.test(p);
}
