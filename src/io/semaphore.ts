/** Bounds how many operations run at once (downloads share one, so N sources do not mean N x 8 sockets). */
export class Semaphore {
  private active = 0;
  /** Waiters that asked to go first, served before `waiting`. */
  private readonly first: Array<() => void> = [];
  private readonly waiting: Array<() => void> = [];

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`semaphore limit must be a positive integer, got ${limit}`);
  }

  /**
   * Runs fn once a slot is free. `first`: ahead of every waiter that did not ask for it, so small
   * requests that unblock other work (a .dep the dependency walk waits for) are not queued behind
   * downloads.
   */
  async run<T>(fn: () => Promise<T>, opts: { first?: boolean } = {}): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => (opts.first ? this.first : this.waiting).push(resolve));
    else this.active++;
    try {
      return await fn();
    } finally {
      const next = this.first.shift() ?? this.waiting.shift();
      // Hand the slot straight to the next waiter so `active` never dips and lets a newcomer jump the queue.
      if (next) next();
      else this.active--;
    }
  }
}
