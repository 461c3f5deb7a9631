/**
 * `dbco test`: what a recipe's checks expect, compared with what a command really printed and returned.
 * Pure; the docker and disk runners only collect each command's stdout and exit status.
 */
import type { CheckSpec } from '../../recipe/schema.js';

export interface CheckRun {
  stdout: string;
  /** null when the command never reported (the guest stopped before it). */
  exit: number | null;
}

export interface CheckResult {
  name: string;
  pass: boolean;
  /** Why it failed, one line; empty on a pass. */
  reason: string;
}

const MAX_SHOWN = 60;

function shown(s: string): string {
  const one = JSON.stringify(s);
  return one.length > MAX_SHOWN ? `${one.slice(0, MAX_SHOWN - 4)}..."` : one;
}

/** A final newline is not part of the comparison: `echo x` prints "x\n" and the recipe says "x". */
function chomp(s: string): string {
  return s.endsWith('\n') ? s.slice(0, -1) : s;
}

export function evaluateCheck(check: CheckSpec, run: CheckRun): CheckResult {
  const name = check.name ?? check.run;
  const wantExit = check.exit ?? 0;
  const reasons: string[] = [];
  if (run.exit === null) reasons.push('no result (the command did not finish)');
  else if (run.exit !== wantExit) reasons.push(`exit ${run.exit}, expected ${wantExit}`);
  if (run.exit !== null) {
    if (check.stdout !== undefined && chomp(run.stdout) !== chomp(check.stdout)) {
      reasons.push(`stdout ${shown(run.stdout)}, expected ${shown(check.stdout)}`);
    }
    if (check.stdout_matches !== undefined && !new RegExp(check.stdout_matches).test(run.stdout)) {
      reasons.push(`stdout ${shown(run.stdout)} does not match /${check.stdout_matches}/`);
    }
  }
  return { name, pass: reasons.length === 0, reason: reasons.join('; ') };
}

/** The pass/fail table `dbco test` prints, one row a check, then a summary line. */
export function resultTable(results: readonly CheckResult[]): string {
  const width = Math.min(50, Math.max(5, ...results.map((r) => r.name.length)));
  const cut = (s: string): string => (s.length > width ? `${s.slice(0, width - 3)}...` : s.padEnd(width));
  const lines = [`${'check'.padEnd(width)}  result  detail`];
  for (const r of results) lines.push(`${cut(r.name.replace(/\s+/g, ' '))}  ${r.pass ? 'PASS  ' : 'FAIL  '}  ${r.reason}`.trimEnd());
  const failed = results.filter((r) => !r.pass).length;
  lines.push(`${results.length - failed} passed, ${failed} failed`);
  return `${lines.join('\n')}\n`;
}
