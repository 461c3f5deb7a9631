/**
 * The disk's one addition to the rootfs, as a layer on top of the recipe's (same model, flattened with
 * the rest): /usr/local/sbin/dbco-provision, called at the end of /opt/bootsync.sh. At every boot it
 * looks for a dbco provision drive; only the Packer stage attaches one, so on a normal boot it does
 * nothing and the artifact is the same disk whether or not it was provisioned.
 * The extensions' setup scripts need no hook here: assembleRootfs(setup 'boot') writes /tmp/setup.lst,
 * which TC's own tce-setup runs at boot after ldconfig.
 */
import type { Entry } from '../../formats/entry.js';
import type { Layer } from '../../rootfs/layer.js';

export const PROVISION_HOOK_PATH = 'usr/local/sbin/dbco-provision';
const BOOTSYNC_PATH = 'opt/bootsync.sh';
/** First 16 bytes of a provision drive; the next 16 hold the script length in decimal, space padded. */
export const PROVISION_MAGIC = 'DBCO-PROVISION-1';
/** Lines the host reads back from the serial console. */
export const PROVISION_DONE = 'dbco-provision: boot confirmed';
export const PROVISION_EXIT = 'dbco-provision: exit ';

const HOOK = `#!/bin/sh
# Written by dbco. Runs the recipe's provision steps when a dbco provision drive is attached (the Packer
# stage of dbco image --disk), prints their output and a confirmation to the console, and powers off.
# The host reads that report from the first serial port: when the kernel's console is elsewhere (no
# console=ttyS0 in the bootcodes), it goes to /dev/ttyS0 as well.
for d in /dev/sd[b-z] /dev/vd[b-z] /dev/hd[b-z]; do
  [ -b "$d" ] || continue
  [ "$(dd if="$d" bs=16 count=1 2>/dev/null)" = "${PROVISION_MAGIC}" ] || continue
  len=$(dd if="$d" bs=16 skip=1 count=1 2>/dev/null | tr -d ' ')
  dd if="$d" bs=512 skip=1 2>/dev/null | head -c "$len" > /tmp/dbco-provision.sh
  serial=
  if [ -c /dev/ttyS0 ] && ! grep -qw ttyS0 /sys/class/tty/console/active 2>/dev/null; then serial=/dev/ttyS0; fi
  {
    echo "dbco-provision: running steps from $d"
    sh /tmp/dbco-provision.sh 2>&1
    echo "${PROVISION_EXIT}$?"
    rm -f /tmp/dbco-provision.sh
    sync
    echo "${PROVISION_DONE}"
  } 2>&1 | if [ -n "$serial" ]; then tee "$serial"; else cat; fi
  poweroff
  exit 0
done
`;

function fileEntry(path: string, body: string, meta: Pick<Entry, 'mode' | 'uid' | 'gid'>, mtime: number): Entry {
  const data = Buffer.from(body);
  return { path, kind: 'file', ...meta, mtime, size: data.length, open: async function* () { yield data; } };
}

async function readText(e: Entry): Promise<string> {
  const chunks: Buffer[] = [];
  if (e.open) for await (const c of e.open()) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * The hooks layer for a rootfs whose flattened tree is `tree`. bootsync.sh keeps its content, owner and
 * mode; the hook line goes last, after bootlocal.sh is started, so the provision steps see a booted system.
 */
export async function diskHooksLayer(tree: readonly Entry[], epoch: number): Promise<Layer> {
  const bootsync = tree.find((e) => e.path === BOOTSYNC_PATH);
  const body = bootsync?.kind === 'file' ? await readText(bootsync) : '#!/bin/sh\n/opt/bootlocal.sh &\n';
  const line = `/${PROVISION_HOOK_PATH}`;
  const next = body.split('\n').includes(line) ? body : `${body}${body.endsWith('\n') || body === '' ? '' : '\n'}${line}\n`;
  const meta = bootsync?.kind === 'file' ? { mode: bootsync.mode, uid: bootsync.uid, gid: bootsync.gid } : { mode: 0o775, uid: 0, gid: 50 };
  return {
    id: 'disk-hooks',
    entries: [
      fileEntry(BOOTSYNC_PATH, next, meta, epoch),
      fileEntry(PROVISION_HOOK_PATH, HOOK, { mode: 0o755, uid: 0, gid: 0 }, epoch),
    ],
    cacheKey: `disk-hooks:v2:${epoch}:${Buffer.from(next).toString('base64')}`,
  };
}

/** The provision drive's bytes for the recipe's steps: each echoed before it runs, the first failure stops them. */
export function provisionDrive(steps: readonly string[]): Buffer {
  return scriptDrive([
    '#!/bin/sh',
    'set -e',
    ...steps.flatMap((s, i) => [`echo ${shq(`dbco-provision[${i + 1}]: ${s}`)}`, s]),
    '',
  ].join('\n'));
}

/** A drive the hook runs: magic, script length, then the script from sector 1, padded to whole sectors. */
export function scriptDrive(script: string): Buffer {
  const data = Buffer.from(script);
  const header = Buffer.alloc(512, 0);
  header.write(PROVISION_MAGIC, 0, 'latin1');
  header.write(String(data.length).padEnd(16, ' '), 16, 'latin1');
  const padded = Buffer.alloc(Math.ceil(data.length / 512) * 512 || 512, 0);
  data.copy(padded);
  return Buffer.concat([header, padded]);
}

export function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
