import { afterAll, describe } from 'vitest';
import { tempDir } from '../../test/helpers/env.js';
import { stateCases } from './state-cases.js';

describe('state on the real filesystem', () => {
  const t = tempDir();
  afterAll(() => t.cleanup());
  stateCases(() => t.dir);
});
