import { describe, expect, it } from 'vitest';
import { DbcoError } from '../../src/errors.js';
import { buildEpoch } from '../../src/rootfs/epoch.js';

describe('buildEpoch', () => {
  it('is SOURCE_DATE_EPOCH when set, else 0', () => {
    expect(buildEpoch({})).toBe(0);
    expect(buildEpoch({ SOURCE_DATE_EPOCH: '' })).toBe(0);
    expect(buildEpoch({ SOURCE_DATE_EPOCH: '1700000000' })).toBe(1700000000);
    expect(buildEpoch({ SOURCE_DATE_EPOCH: ' 42\n' })).toBe(42);
  });

  it.each(['-1', '1.5', '1e9', 'yesterday', '99999999999999'])('rejects %j naming the variable', (v) => {
    expect(() => buildEpoch({ SOURCE_DATE_EPOCH: v })).toThrow(DbcoError);
    expect(() => buildEpoch({ SOURCE_DATE_EPOCH: v })).toThrow(/SOURCE_DATE_EPOCH/);
  });
});
