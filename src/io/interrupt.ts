/**
 * What a SIGINT or SIGTERM does to a running dbco: every registered cleanup runs once, newest first (a
 * container before the image it was made from, a temp file before its folder), within a bounded time,
 * then the process exits 130 (SIGINT) or 143 (SIGTERM), as a shell reports a process killed by them.
 * A second signal during the cleanups exits at once. Whatever a kill -9 leaves behind is for the next
 * run (temp files by pid liveness, see cache/atomic.ts) and `dbco cache gc` to remove.
 *
 * Any stage may register: `const done = onInterrupt(() => removeIt(), 'setup container X')` when the
 * object appears, `done()` once it is gone or kept for good. Cleanups must be safe to run while the code
 * that made the object is still running (it will fail once its object is gone; nothing prints then).
 */
export type Cleanup = () => unknown;

interface Entry {
  id: number;
  label: string;
  fn: Cleanup;
}

export const INTERRUPT_EXIT_CODES = { SIGINT: 130, SIGTERM: 143 } as const;
type Handled = keyof typeof INTERRUPT_EXIT_CODES;

/** How long all cleanups together may take before the process exits anyway. */
export const DEFAULT_GRACE_MS = 15_000;

const entries: Entry[] = [];
let nextId = 1;
let interruptedBy: Handled | undefined;

/** Registers a cleanup for an interrupt; returns the function that unregisters it. */
export function onInterrupt(fn: Cleanup, label = 'cleanup'): () => void {
  const entry: Entry = { id: nextId++, label, fn };
  entries.push(entry);
  return () => {
    const i = entries.indexOf(entry);
    if (i >= 0) entries.splice(i, 1);
  };
}

/** The signal being handled, once one arrived: work in flight should stop creating new objects. */
export function interrupted(): Handled | undefined {
  return interruptedBy;
}

/**
 * Runs every registered cleanup once, newest first, each awaited, all together bounded by `graceMs`.
 * Past the deadline the remaining cleanups are still started (their synchronous part, such as removing
 * temp files, runs) but not awaited. Failures are reported through `report` and do not stop the others.
 * Returns the labels of the cleanups that did not finish in time.
 */
export async function runCleanups(graceMs = DEFAULT_GRACE_MS, report: (msg: string) => void = () => {}): Promise<string[]> {
  const todo = entries.splice(0).reverse();
  const unfinished: string[] = [];
  const fail = (e: Entry, err: unknown): void => report(`cleanup failed: ${e.label}: ${(err as Error)?.message ?? String(err)}`);
  let timer: NodeJS.Timeout | undefined;
  let late = false;
  const deadline = new Promise<'late'>((resolve) => { timer = setTimeout(() => { late = true; resolve('late'); }, graceMs); });
  for (const e of todo) {
    let p: Promise<unknown>;
    try {
      p = Promise.resolve(e.fn());
    } catch (err) {
      fail(e, err);
      continue;
    }
    p = p.catch((err: unknown) => fail(e, err));
    if (late || (await Promise.race([p, deadline])) === 'late') unfinished.push(e.label);
  }
  clearTimeout(timer);
  return unfinished;
}

export interface InterruptHandlerOptions {
  graceMs?: number;
  /** Called with 130 or 143 once the cleanups are done (process.exit in the CLI). */
  exit?: (code: number) => void;
  /** One-line notes on stderr. */
  report?: (msg: string) => void;
}

let installed: (() => void) | undefined;

/**
 * Installs the SIGINT/SIGTERM handlers (once per process; later calls return the same uninstaller).
 * DBCO_INTERRUPT_GRACE_MS overrides the time the cleanups get.
 */
export function installInterruptHandlers(opts: InterruptHandlerOptions = {}): () => void {
  if (installed) return installed;
  const env = process.env.DBCO_INTERRUPT_GRACE_MS;
  const graceMs = opts.graceMs ?? (env !== undefined && /^\d+$/.test(env) ? Number(env) : DEFAULT_GRACE_MS);
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  const report = opts.report ?? ((msg: string) => process.stderr.write(`dbco: ${msg}\n`));
  const handler = (signal: Handled): void => {
    const code = INTERRUPT_EXIT_CODES[signal];
    if (interruptedBy) {
      exit(code);
      return;
    }
    interruptedBy = signal;
    report(`${signal}: cleaning up`);
    void runCleanups(graceMs, report).then((left) => {
      if (left.length > 0) report(`gave up after ${graceMs} ms on: ${left.join(', ')}`);
      exit(code);
    });
  };
  const onInt = (): void => handler('SIGINT');
  const onTerm = (): void => handler('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  installed = () => {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
    installed = undefined;
    interruptedBy = undefined;
  };
  return installed;
}
