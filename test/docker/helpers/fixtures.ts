import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { requireTool, sharedMirror } from '../../helpers/env.js';

export const TC6 = '6.x/x86_64';

function md5(file: string): string {
  return createHash('md5').update(readFileSync(file)).digest('hex');
}

export function writeMd5(file: string): void {
  writeFileSync(`${file}.md5.txt`, `${md5(file)}  ${path.basename(file)}\n`);
}

/** A mirror folder holding a copy of the real 6.x x86_64 release files (rootfs64.gz, vmlinuz64). */
export function mirrorWith6x(root: string): string {
  const src = path.join(sharedMirror(), TC6, 'release/distribution_files');
  const dst = path.join(root, TC6, 'release/distribution_files');
  mkdirSync(dst, { recursive: true });
  for (const f of ['rootfs64.gz', 'rootfs64.gz.md5.txt']) copyFileSync(path.join(src, f), path.join(dst, f));
  mkdirSync(path.join(root, TC6, 'tcz'), { recursive: true });
  return root;
}

/** Packs `files` (path -> content, or {content, mode}) into NAME.tcz with .dep and .md5.txt beside it. */
export function makeTcz(tczDir: string, name: string, files: Record<string, string | Buffer | { content: string | Buffer; mode: number }>, deps: string[] = []): string {
  requireTool('mksquashfs');
  const tree = path.join(tczDir, `.${name}-tree`);
  for (const [rel, spec] of Object.entries(files)) {
    const file = path.join(tree, rel);
    mkdirSync(path.dirname(file), { recursive: true });
    const { content, mode } = typeof spec === 'string' || Buffer.isBuffer(spec) ? { content: spec, mode: 0o644 } : spec;
    writeFileSync(file, content);
    chmodSync(file, mode);
  }
  const tcz = path.join(tczDir, `${name}.tcz`);
  execFileSync('mksquashfs', [tree, tcz, '-noappend', '-all-root', '-no-progress', '-quiet', '-comp', 'gzip', '-b', '4096']);
  execFileSync('rm', ['-rf', tree]);
  writeMd5(tcz);
  if (deps.length) writeFileSync(`${tcz}.dep`, deps.map((d) => `${d}.tcz\n`).join(''));
  return tcz;
}

const SYSCALLS = `
static long sys3(long n, long a, long b, long c) {
  long r;
  __asm__ volatile ("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
  return r;
}
static void say(const char *s) { long n = 0; while (s[n]) n++; sys3(1, 1, (long)s, n); }
`;

/**
 * x86_64 programs that need no libc (raw syscalls), so they run on TC 6.x whatever glibc the host has:
 * a static one printing `message`, and a dynamic one that only works when the loader finds
 * libdbcogreet.so in /usr/local/lib (that is, after ldconfig).
 */
export function buildPrograms(dir: string): { staticBin: (message: string) => Buffer; dynBin: Buffer; lib: Buffer } {
  requireTool('gcc');
  mkdirSync(dir, { recursive: true });
  const cflags = ['-O2', '-fno-stack-protector', '-fno-asynchronous-unwind-tables', '-nostdlib', '-nostartfiles'];
  const staticBin = (message: string): Buffer => {
    const name = createHash('sha256').update(message).digest('hex').slice(0, 8);
    const src = path.join(dir, `s-${name}.c`);
    writeFileSync(src, `${SYSCALLS}\nvoid _start(void) { say(${JSON.stringify(`${message}\n`)}); sys3(60, 0, 0, 0); for (;;) {} }\n`);
    const out = path.join(dir, `s-${name}`);
    execFileSync('gcc', [...cflags, '-static', '-o', out, src]);
    return readFileSync(out);
  };
  const libSrc = path.join(dir, 'greet.c');
  writeFileSync(libSrc, `${SYSCALLS}\nvoid dbco_greet(void) { say("dynamic-ok\\n"); }\n`);
  const lib = path.join(dir, 'libdbcogreet.so');
  // Linked to libc.so.6 though it calls nothing there: TC 6.x's ldconfig files a library without that
  // dependency as a non-glibc ('unknown') one, which the x86_64 loader then ignores. No symbol is bound,
  // so the host's glibc version does not matter.
  execFileSync('gcc', [...cflags, '-shared', '-fPIC', '-Wl,-soname,libdbcogreet.so', '-o', lib, libSrc, '-Wl,--no-as-needed', '-lc']);
  const mainSrc = path.join(dir, 'dyn.c');
  writeFileSync(mainSrc, `${SYSCALLS}\nvoid dbco_greet(void);\nvoid _start(void) { dbco_greet(); sys3(60, 0, 0, 0); for (;;) {} }\n`);
  const dyn = path.join(dir, 'dyn');
  execFileSync('gcc', [...cflags, '-no-pie', '-o', dyn, mainSrc, `-L${dir}`, '-ldbcogreet', '-Wl,--dynamic-linker=/lib/ld-linux-x86-64.so.2']);
  return { staticBin, dynBin: readFileSync(dyn), lib: readFileSync(lib) };
}

/**
 * The x86_64 fixture set on top of the 6.x release: a -> b -> c (each a binary printing its name),
 * greet (dynamic binary + its .so in /usr/local/lib), setupext (its tce.installed script writes
 * /etc/dbco-setup-done and deletes a file the extension shipped).
 */
export function fixtureMirror(root: string): string {
  mirrorWith6x(root);
  const tcz = path.join(root, TC6, 'tcz');
  const progs = buildPrograms(path.join(root, '.build'));
  const exe = (content: Buffer | string) => ({ content, mode: 0o755 });
  makeTcz(tcz, 'c', { 'usr/local/bin/prog-c': exe(progs.staticBin('c-ok')) });
  makeTcz(tcz, 'b', { 'usr/local/bin/prog-b': exe(progs.staticBin('b-ok')) }, ['c']);
  makeTcz(tcz, 'a', { 'usr/local/bin/prog-a': exe(progs.staticBin('a-ok')), 'usr/local/share/a/data.txt': 'data of a\n' }, ['b']);
  makeTcz(tcz, 'greet', { 'usr/local/bin/greet': exe(progs.dynBin), 'usr/local/lib/libdbcogreet.so': exe(progs.lib) });
  makeTcz(tcz, 'setupext', {
    'usr/local/tce.installed/setupext': exe('#!/bin/sh\necho "setup ran as $(id -u)" > /etc/dbco-setup-done\nrm -f /usr/local/share/setupext/remove-me\n'),
    'usr/local/share/setupext/remove-me': 'the setup script deletes me\n',
  });
  return root;
}

export function writeRecipe(dir: string, name: string, body: string): string {
  const file = path.join(dir, `${name}.yaml`);
  writeFileSync(file, body);
  return file;
}
