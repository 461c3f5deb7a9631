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

  constructor(private readonly log: Logger | undefined, tty: boolean) {
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
    if (!this.tty || !this.log?.progress) return;
    const now = Date.now();
    if (!force && now - this.lastEmit < 100) return;
    this.lastEmit = now;
    this.log.progress(`fetch ${this.filesDone}/${this.filesStarted} files`, this.bytesDone, this.bytesTotal || undefined);
  }
}
