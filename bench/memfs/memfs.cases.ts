import { describe, vi } from 'vitest';
import { stateCases } from './state-cases.js';

vi.mock('node:fs', async () => {
  const { fs } = await import('memfs');
  return { ...fs, default: fs };
});
vi.mock('node:fs/promises', async () => {
  const { fs } = await import('memfs');
  return { ...fs.promises, default: fs.promises };
});

describe('state on memfs', () => {
  stateCases(() => '/mem');
});
