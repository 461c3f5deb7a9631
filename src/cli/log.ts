import type { Logger } from '../pipeline/prepare.js';

/** Progress and notes go to stderr, so stdout carries only results (image ID, tag) for scripts. */
export function stderrLogger(quiet = false): Logger {
  return {
    info: (msg) => { if (!quiet) process.stderr.write(`${msg}\n`); },
    warn: (msg) => { process.stderr.write(`warning: ${msg}\n`); },
  };
}
