/** How every stage reports to the user; the CLI picks a TTY or plain-line implementation. */
export interface Logger {
  info(msg: string): void;
  warn(msg: string): void;
  /** Progress for long operations; a TTY shows a bar, a pipe shows plain lines. */
  progress?(label: string, done: number, total?: number): void;
}
