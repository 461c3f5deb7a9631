import { consoleLogger } from '../io/console-logger.js';
import type { Logger } from '../io/logger.js';

/**
 * Progress and notes go to stderr, so stdout carries only results (image ID, tag) for scripts. On a
 * TTY progress is one line redrawn in place; in a pipe it is plain lines. --quiet keeps warnings only.
 */
export function stderrLogger(quiet = false): Logger {
  const log = consoleLogger(process.stderr);
  return quiet ? { info: () => {}, warn: log.warn } : log;
}
