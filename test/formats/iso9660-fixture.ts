import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { requireTool, sharedMirror } from '../helpers/env.js';

/**
 * A folder in TC's ISO layout built from the shared 7.x files: boot/vmlinuz, boot/core.gz,
 * cde/optional/*.tcz{,.dep,.md5.txt}, cde/onboot.lst. With `extras`, also the things a reader must get
 * right: symlinks (relative, absolute, to a dir), modes, deep nesting, long and non-ASCII names.
 */
export function tcStaging(dir: string, opts: { extras?: boolean; tczLimit?: number } = {}): string {
  const mirror = path.join(sharedMirror(), '7.x/x86');
  const stage = path.join(dir, 'stage');
  mkdirSync(path.join(stage, 'boot'), { recursive: true });
  mkdirSync(path.join(stage, 'cde/optional'), { recursive: true });
  copyFileSync(path.join(mirror, 'release/distribution_files/vmlinuz'), path.join(stage, 'boot/vmlinuz'));
  // 7.x has no core.gz upstream here; the 6.x initramfs stands in so /boot looks like a Core ISO.
  copyFileSync(path.join(sharedMirror(), '6.x/x86_64/release/distribution_files/rootfs64.gz'), path.join(stage, 'boot/core.gz'));
  copyFileSync(path.join(mirror, 'cde-onboot.lst'), path.join(stage, 'cde/onboot.lst'));
  let names = readdirSync(path.join(mirror, 'tcz')).sort();
  if (opts.tczLimit !== undefined) {
    const keep = new Set(names.filter((n) => n.endsWith('.tcz')).slice(0, opts.tczLimit));
    names = names.filter((n) => keep.has(n.replace(/\.(dep|md5\.txt)$/, '')));
  }
  for (const n of names) copyFileSync(path.join(mirror, 'tcz', n), path.join(stage, 'cde/optional', n));
  if (opts.extras) {
    const x = path.join(stage, 'extras');
    mkdirSync(path.join(x, 'a/b/c/d/e/f/g/h/i/j'), { recursive: true });
    writeFileSync(path.join(x, 'a/b/c/d/e/f/g/h/i/j/deep.txt'), 'deep\n');
    writeFileSync(path.join(x, 'script.sh'), '#!/bin/sh\necho hi\n');
    chmodSync(path.join(x, 'script.sh'), 0o755);
    writeFileSync(path.join(x, 'secret'), 'x');
    chmodSync(path.join(x, 'secret'), 0o600);
    writeFileSync(path.join(x, `${'long-name-'.repeat(12)}end.txt`), 'long\n');
    writeFileSync(path.join(x, 'grüße ünïcødé.txt'), 'unicode\n');
    writeFileSync(path.join(x, 'empty'), '');
    symlinkSync('../cde/optional/aterm.tcz', path.join(x, 'rel-link'));
    symlinkSync('/usr/local/tce.installed', path.join(x, 'abs-link'));
    symlinkSync('a/b/c', path.join(x, 'dir-link'));
    symlinkSync(`${'seg'.repeat(40)}/${'more'.repeat(40)}/../x`, path.join(x, 'long-link'));
  }
  return stage;
}

/** Runs xorriso in mkisofs mode; `flags` like ['-R', '-J']. */
export function xorrisoIso(stage: string, out: string, flags: string[]): string {
  requireTool('xorriso');
  execFileSync('xorriso', ['-as', 'mkisofs', ...flags, '-V', 'TC_TEST', '-o', out, stage], { stdio: 'pipe' });
  return out;
}

export function genisoimageIso(stage: string, out: string, flags: string[]): string {
  requireTool('genisoimage');
  execFileSync('genisoimage', [...flags, '-quiet', '-V', 'TC_TEST', '-o', out, stage], { stdio: 'pipe' });
  return out;
}
