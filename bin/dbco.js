#!/usr/bin/env node
import { statSync } from 'node:fs';

// The bundle (dist/cli, scripts/bundle.mjs) starts ~100 ms sooner than tsc's ~230 separate modules.
// tsc's tree is the fallback when the bundle is missing or older than it: only tsc was run since, and
// a stale bundle would silently run old code.
const mtime = (rel) => statSync(new URL(rel, import.meta.url), { throwIfNoEntry: false })?.mtimeMs;
const bundled = mtime('../dist/cli/main.js');
const compiled = mtime('../dist/src/cli/main.js');
const entry = bundled !== undefined && !(compiled > bundled) ? '../dist/cli/main.js' : '../dist/src/cli/main.js';

import(entry).then((m) => m.main(process.argv.slice(2))).then(
  (code) => { process.exitCode = code ?? 0; },
  (err) => { console.error(err?.stack ?? String(err)); process.exitCode = 70; },
);
