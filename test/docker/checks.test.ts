import { afterAll, describe, expect, test } from 'vitest';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { requireTool, runDbco, sharedMirror, tempDir } from '../helpers/env.js';
import { docker, removeImages } from './helpers/docker-util.js';

/** `dbco test RECIPE --docker`: the recipe's checks run in containers of the image it builds, on the real engine. */
describe('dbco test --docker', () => {
  const tmp = tempDir('dbco-checks-docker-');
  const cache = path.join(tmp.dir, 'cache');
  const tag = `dbco-t${process.pid}-checks:1`;
  afterAll(() => {
    removeImages(tag);
    tmp.cleanup();
  });

  function recipe(name: string, checks: string[]): string {
    const file = path.join(tmp.dir, `${name}.yaml`);
    writeFileSync(file, [
      `name: ${name}`, 'release: "6.4.1"', 'arch: x86_64', `mirror: ${sharedMirror()}`, 'base: rootfs64.gz',
      `image: { tag: "${tag}", setup: none }`, 'checks:', ...checks, '',
    ].join('\n'));
    return file;
  }

  const passing = [
    '  - { name: release, run: "cat /usr/share/doc/tc/release.txt", stdout: "6.4.1" }',
    '  - { run: "ls /bin | grep -c busybox", stdout_matches: "^[1-9]" }',
    '  - { name: exit status, run: "exit 3", exit: 3 }',
  ];

  test('passing checks: a table of PASS rows, exit 0', async () => {
    requireTool('docker');
    const r = await runDbco(['test', recipe('checks-pass', passing), '--docker', '--cache', cache, '-q']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^release +PASS$/m);
    expect(r.stdout).toMatch(/^exit status +PASS$/m);
    expect(r.stdout).toMatch(/^3 passed, 0 failed$/m);
    // Only our own containers, labelled: none is left behind.
    expect(docker(['ps', '-aq', '--filter', `ancestor=${tag}`, '--filter', 'label=dbco.test']).trim()).toBe('');
  }, 180_000);

  test('a failing check: its row says why, exit 1', async () => {
    const r = await runDbco(['test', recipe('checks-fail', [...passing, '  - { name: wrong release, run: "cat /usr/share/doc/tc/release.txt", stdout: "7.2" }']), '--docker', '--cache', cache, '-q']);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toMatch(/^release +PASS$/m);
    expect(r.stdout).toMatch(/^wrong release +FAIL +stdout "6\.4\.1\\n", expected "7\.2"$/m);
    expect(r.stdout).toMatch(/^3 passed, 1 failed$/m);
  }, 180_000);

  test('a recipe without checks is refused with one line naming the field', async () => {
    const file = path.join(tmp.dir, 'none.yaml');
    writeFileSync(file, `name: none\nrelease: "6.4.1"\narch: x86_64\nmirror: ${sharedMirror()}\nbase: rootfs64.gz\n`);
    const r = await runDbco(['test', file, '--docker', '--cache', cache]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/checks: no checks to run/);
  });
});
