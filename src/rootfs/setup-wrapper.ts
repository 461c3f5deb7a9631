/**
 * For `image.setup: boot`: the container's entrypoint. TC runs `ldconfig` and then each extension's
 * executable /usr/local/tce.installed/NAME at boot (tce-setup, from /tmp/setup.lst that `tce-load -b`
 * wrote); a container has no boot, so this wrapper does the same once per container (the marker lives
 * in the container's own /tmp, which survives a restart) and then execs the command.
 */
export const SETUP_WRAPPER_PATH = '/usr/local/sbin/dbco-setup';
export const SETUP_DONE_MARKER = '/tmp/.dbco-setup.done';

export function setupWrapperScript(scripts: readonly string[]): string {
  const list = scripts.map(shellQuote).join(' ');
  return [
    '#!/bin/sh',
    '# Written by dbco: runs the extensions\' setup scripts once per container, as TC\'s tce-setup does at boot.',
    `if [ ! -e ${SETUP_DONE_MARKER} ]; then`,
    '  if command -v ldconfig >/dev/null 2>&1; then ldconfig 2>/dev/null; fi',
    ...(scripts.length ? [`  for f in ${list}; do`, '    if [ -x "$f" ]; then "$f"; fi', '  done'] : []),
    '  rm -f /tmp/setup.lst',
    `  : > ${SETUP_DONE_MARKER}`,
    'fi',
    'if [ $# -eq 0 ]; then set -- /bin/sh; fi',
    'exec "$@"',
    '',
  ].join('\n');
}

function shellQuote(s: string): string {
  return /^[\w./+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
