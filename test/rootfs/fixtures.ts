import { chmodSync, chownSync, linkSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { mksquashfs } from './helpers.js';

type Spec = Record<string, { text?: string; mode?: number; owner?: [number, number]; link?: string; dir?: boolean }>;

/** Stages a tree (parents 0755 root) and packs it as a tcz with the real mksquashfs. */
export function buildTcz(workDir: string, name: string, spec: Spec): string {
  const stage = path.join(workDir, `stage-${name}`);
  mkdirSync(stage, { recursive: true });
  for (const [rel, s] of Object.entries(spec)) {
    const abs = path.join(stage, rel);
    mkdirSync(s.dir ? abs : path.dirname(abs), { recursive: true });
    if (s.link) linkSync(path.join(stage, s.link), abs);
    else if (!s.dir) writeFileSync(abs, s.text ?? '');
    if (s.mode !== undefined) chmodSync(abs, s.mode);
    if (s.owner) chownSync(abs, s.owner[0], s.owner[1]);
  }
  return mksquashfs(stage, path.join(workDir, name));
}

/** Four small extensions covering what tce-load distinguishes. */
export function buildFixtureTczs(workDir: string): { setup: string; plain: string; kept: string; mods: string } {
  return {
    setup: buildTcz(workDir, 'setupext.tcz', {
      'usr/local/bin/hello': { text: '#!/bin/sh\necho hello\n', mode: 0o755 },
      'usr/local/bin/hello-link': { link: 'usr/local/bin/hello' },
      'usr/local/bin/suid': { text: 'suid', mode: 0o4755 },
      'usr/local/share/setupext/owned': { text: 'tc owns me', owner: [1001, 50], mode: 0o640 },
      'usr/local/tce.installed/setupext': { text: '#!/bin/sh\necho "setup ran" > /tmp/setupext.ran\n', mode: 0o755 },
    }),
    plain: buildTcz(workDir, 'plainext.tcz', { 'usr/local/lib/libplain.so.1': { text: 'not really a library' } }),
    kept: buildTcz(workDir, 'keptext.tcz', { 'usr/local/tce.installed/keptext': { text: 'data, not a script\n', mode: 0o644 } }),
    mods: buildTcz(workDir, 'modsext.tcz', { 'usr/local/lib/modules/3.16.6-tinycore64/kernel/x.ko': { text: 'ko' } }),
  };
}
