// The CLI as a bundle of a few dozen chunks (dist/cli/), built from tsc's output (dist/src/): Node
// then resolves, reads and compiles 20-45 chunks at start-up instead of ~230 modules one by one
// (docs/dependencies.md, "esbuild"). Run by `npm run build` after tsc; bin/dbco.js falls back to
// dist/src/cli/main.js when this output is missing or older than tsc's.
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outdir = path.join(root, 'dist/cli');
const { version } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
// The same key the unbundled loader computes from the files, so both share one recipe memo.
const { validatorDigestIn } = await import(pathToFileURL(path.join(root, 'dist/src/recipe/load.js')).href);
const validator = await validatorDigestIn(path.join(root, 'dist/src/recipe'), '.js');

// Chunk names carry a hash: old ones would pile up.
rmSync(outdir, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: { main: 'dist/src/cli/main.js' },
  outdir,
  bundle: true,
  splitting: true, // each command's dynamic import stays a lazily loaded chunk
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // Imported only by --sbom (7 MB, 180-400 ms to load): it stays a package loaded on use.
  external: ['@cyclonedx/cyclonedx-library', '@cyclonedx/cyclonedx-library/*'],
  define: { DBCO_VERSION: JSON.stringify(version), DBCO_RECIPE_VALIDATOR: JSON.stringify(validator) },
  // commander is CommonJS: its require() calls of node: built-ins need a require inside an ES module.
  banner: { js: "import { createRequire as __dbcoCreateRequire } from 'node:module'; const require = __dbcoCreateRequire(import.meta.url);" },
  chunkNames: 'chunk-[hash]',
  sourcemap: 'linked', // stack traces back to src/ with --enable-source-maps (tsc's maps are chained)
  logLevel: 'warning',
});
