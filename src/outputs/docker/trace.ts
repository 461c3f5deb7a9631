import { performance } from 'node:perf_hooks';

/** DBCO_TRACE_ENGINE=1: one stderr line per engine step, ms since the process started (for measuring, not for users). */
const on = Boolean(process.env.DBCO_TRACE_ENGINE);

export function trace(what: string): void {
  if (on) process.stderr.write(`[${performance.now().toFixed(0).padStart(6)} ms] ${what}\n`);
}

/** Times `p` under `what` when tracing. */
export async function traced<T>(what: string, p: Promise<T>): Promise<T> {
  if (!on) return p;
  const t = performance.now();
  try {
    return await p;
  } finally {
    trace(`${what}: ${(performance.now() - t).toFixed(0)} ms`);
  }
}
