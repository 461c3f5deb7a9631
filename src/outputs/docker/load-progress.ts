import type { Logger } from '../../io/logger.js';

const mib = (n: number): string => (n / 1048576).toFixed(1);

/**
 * Progress of a build's loads into the engine (the intermediate images the preload sends while layers
 * are still being built, then the last one), as one account. dbco knows what it has sent (bytes, and
 * so how many layers: an archive carries them in order); dockerd's graph driver also reports each layer
 * it registers ("Loading layer" lines), the containerd store and Podman only the end of a load.
 * On a TTY it feeds `log.progress`. In a pipe (a CI log) it prints a plain line at most every
 * PIPE_EVERY_MS while a load runs (ticked on a timer too, so a silent engine is seen), and one line at
 * the end of the build's loads.
 */
export class LoadProgress {
  static readonly PIPE_EVERY_MS = 5000;
  /** Sizes of the layers of every load begun so far, in the order they are sent. */
  private readonly sizes: number[] = [];
  private sent = 0;
  private loads = 0;
  private readonly registered = new Set<string>();
  private readonly tty: boolean;
  private lastLine: number;
  private lastDraw = 0;
  private loadingMs = 0;
  private loadStarted: number | undefined;

  constructor(
    private readonly log: Logger | undefined, tty: boolean, private readonly engine: string,
    private readonly now: () => number = Date.now,
  ) {
    this.tty = tty && typeof log?.progress === 'function';
    this.lastLine = now();
  }

  /** A load begins: the sizes of the layers its archive carries, in order. */
  begin(layerSizes: number[]): void {
    // Bytes beyond the layers (tar headers, config, manifest) are not counted: the layer count stays exact.
    this.sent = this.sizes.reduce((a, b) => a + b, 0);
    this.sizes.push(...layerSizes);
    this.loads++;
    this.loadStarted = this.now();
    if (this.loads === 1) this.lastLine = this.loadStarted;
  }

  /** A layer of a load begun with its sizes still unknown (streamed as the build goes) is about to be sent. */
  addLayer(size: number): void {
    this.sizes.push(size);
  }

  /** The load ended (well or not). */
  end(): void {
    if (this.loadStarted !== undefined) this.loadingMs += this.now() - this.loadStarted;
    this.loadStarted = undefined;
  }

  private total(): number {
    return this.sizes.reduce((a, b) => a + b, 0);
  }

  private layersSent(): number {
    let n = 0;
    let end = 0;
    for (const size of this.sizes) {
      end += size;
      if (this.sent < end) break;
      n++;
    }
    return n;
  }

  bytes(delta: number): void {
    this.sent = Math.min(this.sent + delta, this.total());
    this.tick();
  }

  /** A 'Loading layer' line of the engine's: `id` is registered when current reaches total. */
  engineLayer(id: string, current: number, total: number): void {
    if (current >= total) this.registered.add(id);
    this.tick();
  }

  line(): string {
    const n = this.sizes.length;
    const sent = `${this.layersSent()}/${n} layers sent (${mib(this.sent)} of ${mib(this.total())} MiB)`;
    const engine = this.registered.size > 0 ? `, ${this.registered.size} registered by the engine`
      : this.layersSent() === n ? ', waiting for the engine' : '';
    return `loading into ${this.engine}: ${sent}${engine}`;
  }

  /** On every event, and every second from a timer while a load runs. */
  tick(): void {
    const t = this.now();
    if (this.tty) {
      if (t - this.lastDraw < 100) return;
      this.lastDraw = t;
      this.log!.progress!(`loading ${this.layersSent()}/${this.sizes.length} layers into ${this.engine}`, this.sent, this.total());
      return;
    }
    if (t - this.lastLine < LoadProgress.PIPE_EVERY_MS) return;
    this.lastLine = t;
    this.log?.info(this.line());
  }

  /** The build's loads are over: one line of what went in (nothing when nothing was loaded). */
  summary(): void {
    if (this.loads === 0) return;
    const n = this.sizes.length;
    this.log?.info(`loaded ${n} layer(s), ${mib(this.total())} MiB, into ${this.engine} in ${this.loads} load(s), ${(this.loadingMs / 1000).toFixed(1)} s`);
  }
}
