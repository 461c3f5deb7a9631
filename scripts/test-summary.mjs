// Reads vitest's JSON report and prints the closing line CI reads. Skipped or todo tests count as failures.
import { readFileSync } from 'node:fs';
const r = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests + skipped} failed, ${skipped} skipped`);
if (skipped > 0) { console.error('a skipped test is a failure in CI'); process.exit(1); }
if (r.numFailedTests > 0 || r.numTotalTestSuites === 0 || r.numTotalTests === 0) process.exit(1);
