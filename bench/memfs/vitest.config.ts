import { defineConfig } from 'vitest/config';

// bench memfs only: the same state-holding cases on the real filesystem and on memfs, kept out of `npm test`.
export default defineConfig({ test: { include: ['bench/memfs/*.cases.ts'], testTimeout: 120_000 } });
