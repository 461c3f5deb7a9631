#!/usr/bin/env bash
# The whole suite. Prints one closing line 'tests: N passed, N failed[, N skipped]'. A skipped test fails the run.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p test/.tmp
npm run build || exit 1
npm run typecheck || exit 1
npx vitest run --reporter=default --reporter=json --outputFile.json=test/.tmp/results.json
rc=$?
node scripts/test-summary.mjs test/.tmp/results.json || rc=1
exit $rc
