import type { Logger } from './logger.js';

function human(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/**
 * A Logger on a stream (stderr by default). On a TTY, progress is one line rewritten in place and
 * cleared before any message; on a pipe, progress is silent and messages are plain lines.
 */
export function consoleLogger(stream: NodeJS.WriteStream = process.stderr): Logger {
  const tty = Boolean(stream.isTTY);
  let lineShown = false;
  const clear = () => {
    if (lineShown) stream.write('\r\x1b[K');
    lineShown = false;
  };
  return {
    info(msg) {
      clear();
      stream.write(`${msg}\n`);
    },
    warn(msg) {
      clear();
      stream.write(`warning: ${msg}\n`);
    },
    progress(label, done, total) {
      if (!tty) return;
      const amount = total ? `${human(done)}/${human(total)}` : human(done);
      stream.write(`\r\x1b[K${label} ${amount}`);
      lineShown = true;
    },
  };
}
