import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { kvmWorks } from '../../src/outputs/disk/qemu.js';
import { PART_OFFSET } from '../../src/outputs/disk/assemble.js';
import { requireTool, runDbco, tempDir } from '../helpers/env.js';
import { writeRecipe } from './fixtures.js';
import { bootUntil } from './qemu-watch.js';

/**
 * The shape of recipes/dbcolinux.yaml (17.x: not in ../shared, so not buildable offline) on the 6.4.1
 * base that is: ssh config and keys, passwd and shadow in `persist`, the first password set by
 * chpasswd in bootlocal, console=ttyS0, written as an OVA. The Packer stage saves the persist list
 * (filetool.sh -b, as the seed's build did before its export); the OVA's disk then holds a mydata.tgz
 * with each listed path, and booted out of the OVA it restores them: the tc hash the build made is the
 * one the new boot sees (chpasswd -m salts at random, so a second chpasswd would give another).
 */
const PERSIST = ['usr/local/etc/ssh', 'home/tc/.ssh', 'etc/passwd', 'etc/shadow'];

describe('the dbcolinux shape as an OVA on the 6.4.1 base', () => {
  const tmp = tempDir('dbco-dbcolinux-');
  const cache = path.join(tmp.dir, 'cache');
  const ova = path.join(tmp.dir, 'out', 'shape.ova');
  let recipe = '';
  beforeAll(() => {
    requireTool('packer');
    requireTool('qemu-img');
    mkdirSync(path.dirname(ova));
    recipe = writeRecipe(tmp.dir, 'shape', [
      'files:',
      '  - { dest: /usr/local/etc/ssh/sshd_config, content: "PasswordAuthentication yes\\n", mode: "0644" }',
      '  - { dest: /home/tc/.ssh/authorized_keys, content: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDbcoShapeTestKeyOnlyNotARealOne shape@test\\n", mode: "0600", owner: "1001:50" }',
      'bootlocal:',
      `  - "grep -q '^tc:[^:*!]' /etc/shadow || echo 'tc:dbcolinux' | chpasswd -m"`,
      `  - "echo \\"SHAPE-TC-HASH $(grep '^tc:' /etc/shadow | cut -d: -f2) END\\" > /dev/console"`,
      '  - "touch /tmp/bootlocal-done"',
      `persist: [${PERSIST.join(', ')}]`,
      'provision:',
      '  - "while [ ! -f /tmp/bootlocal-done ]; do sleep 1; done"',
      '  - "filetool.sh -b"',
      '  - "ls -l /mnt/sda1/tce/mydata.tgz"',
      'vm: { memory: 192, version: "1.0", description: "dbcolinux shape" }',
      'disk: { filesystem: ext4 }',
    ].join('\n'));
  });
  afterAll(() => tmp.cleanup());

  test('built with --format ova: mydata.tgz holds what persist lists, and the disk out of the OVA boots with it restored', async () => {
    const r = await runDbco(['image', recipe, '--disk', '--format', 'ova', '-o', ova, '--cache', cache]);
    expect(r.code, r.stderr).toBe(0);
    const serial = readFileSync(path.join(`${ova}.build`, 'serial.log'), 'latin1');
    const built = /SHAPE-TC-HASH (\S+) END/.exec(serial)?.[1];
    expect(built, serial.slice(-3000)).toMatch(/^\$1\$/); // chpasswd -m: an MD5-crypt hash

    const x = path.join(tmp.dir, 'x');
    mkdirSync(x);
    execFileSync('tar', ['xf', ova, '-C', x]);
    expect(execFileSync('tar', ['tf', ova]).toString().trim().split('\n')).toEqual(['shape.ovf', 'shape.mf', 'shape-disk1.vmdk']);
    // console=ttyS0 in the bootcodes: the OVF gives the VM a serial port.
    expect(readFileSync(path.join(x, 'shape.ovf'), 'utf8')).toMatch(/<rasd:ResourceType>21<\/rasd:ResourceType>/);
    const raw = path.join(tmp.dir, 'from-ova.raw');
    execFileSync('qemu-img', ['convert', '-f', 'vmdk', '-O', 'raw', path.join(x, 'shape-disk1.vmdk'), raw]);

    const part = path.join(tmp.dir, 'part');
    execFileSync('dd', [`if=${raw}`, `of=${part}`, 'bs=1M', `skip=${PART_OFFSET / 2 ** 20}`, 'status=none']);
    const tgz = path.join(tmp.dir, 'mydata.tgz');
    execFileSync('debugfs', ['-R', `dump /tce/mydata.tgz ${tgz}`, part], { stdio: 'ignore' });
    const listed = execFileSync('tar', ['tzf', tgz]).toString().split('\n').filter(Boolean);
    const members = listed.map((m) => m.replace(/^\.?\//, '').replace(/\/$/, ''));
    for (const p of PERSIST) expect(members, p).toContain(p);
    expect(members).toContain('usr/local/etc/ssh/sshd_config');
    expect(members).toContain('home/tc/.ssh/authorized_keys');
    const shadow = execFileSync('tar', ['xzOf', tgz, listed[members.indexOf('etc/shadow')]!]).toString();
    expect(shadow).toContain(`tc:${built}:`);

    const kvm = await kvmWorks(raw, 'x86_64');
    // END: the serial output arrives in pieces, and the watch stops at the first match (it once stopped at '$').
    const out = await bootUntil(raw, { arch: 'x86_64', kvm, until: [/SHAPE-TC-HASH \S+ END/], timeoutMs: 180_000 });
    expect(/SHAPE-TC-HASH (\S+) END/.exec(out)![1]).toBe(built);
  }, 900_000);
});
