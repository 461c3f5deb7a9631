import type { Logger } from '../io/logger.js';

/**
 * Download progress of one mirror. On a TTY it feeds `log.progress` (one updating line: files done,
 * bytes/total); otherwise (or when the logger has no `progress`) one plain line per finished file.
 */
export class FetchProgress {
  private filesStarted = 0;
  private filesDone = 0;
  private bytesDone = 0;
  private bytesTotal = 0;
  private lastEmit = 0;

  private readonly tty: boolean;

  /** In a pipe (a CI log), while bytes flow: a plain line at most this often, so a long download is seen. */
  static readonly PIPE_EVERY_MS = 5000;
  private lastPipeLine: number;

  constructor(private readonly log: Logger | undefined, tty: boolean, private readonly now: () => number = Date.now) {
    this.lastPipeLine = now();
    // A logger that cannot draw a progress line still gets the per-file lines.
    this.tty = tty && typeof log?.progress === 'function';
  }

  start(): void {
    this.filesStarted++;
    this.emit(true);
  }

  /** `total` is the file's full size once known; announced once per file. */
  announce(total: number): void {
    this.bytesTotal += total;
  }

  bytes(delta: number): void {
    this.bytesDone += delta;
    this.emit(false);
  }

  done(url: string, size: number, ok: boolean): void {
    this.filesDone++;
    if (this.tty) this.emit(true);
    else if (ok) this.log?.info(`fetched ${url} (${size} bytes)`);
  }

  private emit(force: boolean): void {
    if (!this.tty) {
      const t = this.now();
      if (force || t - this.lastPipeLine < FetchProgress.PIPE_EVERY_MS || this.filesDone >= this.filesStarted) return;
      this.lastPipeLine = t;
      const mib = (n: number): string => (n / 1048576).toFixed(1);
      this.log?.info(`fetching: ${this.filesDone}/${this.filesStarted} files done, ${mib(this.bytesDone)} MiB${this.bytesTotal ? ` of ${mib(this.bytesTotal)} MiB` : ''}`);
      return;
    }
    if (!this.log?.progress) return;
    const now = Date.now();
    if (!force && now - this.lastEmit < 100) return;
    this.lastEmit = now;
    this.log.progress(`fetch ${this.filesDone}/${this.filesStarted} files`, this.bytesDone, this.bytesTotal || undefined);
  }
}
