import { describe, expect, test } from 'vitest';
import { execFileSync } from 'node:child_process';
import { evaluateCheck, resultTable } from '../../src/outputs/checks/evaluate.js';
import { checksScript, parseCheckReport } from '../../src/outputs/disk/run-checks.js';

describe('checks: expectations against what a command printed and returned', () => {
  test('exit status (default 0), exact stdout without its final newline, regex', () => {
    expect(evaluateCheck({ run: 'true' }, { stdout: '', exit: 0 })).toEqual({ name: 'true', pass: true, reason: '' });
    expect(evaluateCheck({ run: 'false' }, { stdout: '', exit: 1 }).reason).toBe('exit 1, expected 0');
    expect(evaluateCheck({ run: 'false', exit: 1 }, { stdout: '', exit: 1 }).pass).toBe(true);
    expect(evaluateCheck({ run: 'echo x', stdout: 'x' }, { stdout: 'x\n', exit: 0 }).pass).toBe(true);
    expect(evaluateCheck({ run: 'echo x', stdout: 'x\n' }, { stdout: 'x\n', exit: 0 }).pass).toBe(true);
    expect(evaluateCheck({ run: 'echo y', stdout: 'x' }, { stdout: 'y\n', exit: 0 }).reason).toBe('stdout "y\\n", expected "x"');
    expect(evaluateCheck({ name: 'kernel', run: 'uname -r', stdout_matches: '^3\\.16' }, { stdout: '3.16.6\n', exit: 0 })).toMatchObject({ name: 'kernel', pass: true });
    expect(evaluateCheck({ run: 'uname -r', stdout_matches: '^4' }, { stdout: '3.16.6\n', exit: 0 }).reason).toMatch(/does not match \/\^4\//);
    expect(evaluateCheck({ run: 'sleep 9' }, { stdout: '', exit: null }).pass).toBe(false);
  });

  test('the table: one row a check, a summary line', () => {
    const t = resultTable([{ name: 'a', pass: true, reason: '' }, { name: 'b', pass: false, reason: 'exit 1, expected 0' }]);
    expect(t.split('\n')).toEqual(['check  result  detail', 'a      PASS', 'b      FAIL    exit 1, expected 0', '1 passed, 1 failed', '']);
  });

  test('the guest script reports stdout (any bytes) and exit status; the host reads them back from a console with CRs and noise', () => {
    const checks = [
      { run: 'printf "two\\nlines\\n"' },
      { run: "echo 'quotes \"and\" $dollars'; exit 3" },
      { run: 'printf "\\001\\377"' },
    ];
    const out = execFileSync('sh', ['-c', checksScript(checks)]).toString();
    const console = `[    1.234] some kernel line\r\n${out.replace(/\n/g, '\r\n')}`;
    expect(parseCheckReport(console, 4)).toEqual([
      { stdout: 'two\nlines\n', exit: 0 },
      { stdout: 'quotes "and" $dollars\n', exit: 3 },
      { stdout: Buffer.from([1, 0xff]).toString('utf8'), exit: 0 },
      { stdout: '', exit: null },
    ]);
  });
});
