import { describe, expect, test } from 'vitest';
import path from 'node:path';
import { sharedMirror } from '../helpers/env.js';
import { resolveExtensions, type DepSource } from '../../src/resolve/resolver.js';
import { ResolveError } from '../../src/errors.js';
import { folderDeps } from './walk-helpers.js';

const M = sharedMirror();

/** A folder's .dep files answered at once, and every payload's existence held until released. */
function heldPayloads(dir: string): DepSource & { release: () => void; asked: number } {
  const inner = folderDeps(dir);
  let release!: () => void;
  const released = new Promise<void>((r) => { release = r; });
  const src = {
    where: inner.where,
    asked: 0,
    release,
    depText: (name: string) => inner.depText(name),
    exists: async (name: string) => { src.asked++; await released; return inner.exists(name); },
  };
  return src;
}

/**
 * onOrder: the install order as soon as every .dep is read, before any payload is in; what a build
 * starts loading into the engine from, so it must be the resolution's order whenever that succeeds.
 */
describe('the install order before the payloads', () => {
  for (const [tree, exts] of [['7.x/x86/tcz', ['gtk2', 'curl']], ['14.x/x86_64/tcz', ['iproute2', 'dialog']]] as const) {
    test(`${tree} ${exts.join(' + ')}: given while every payload is still held, equal to the resolution`, async () => {
      const src = heldPayloads(path.join(M, tree));
      let early: string[] | undefined;
      const resolving = resolveExtensions([...exts], src, { onOrder: (names) => { early = names; src.release(); } });
      // Released only by onOrder: without it the walk would never end and the test would time out.
      const res = await resolving;
      expect(early).toEqual(res.extensions.map((e) => e.name));
      expect(src.asked).toBe(res.extensions.length);
    });
  }

  test('a payload that is not there: the order was given, and the resolution still fails naming the chain', async () => {
    // git.tcz in the shared 7.x mirror has a .dep and .md5.txt but no payload.
    let early: string[] | undefined;
    const err = await resolveExtensions(['git'], folderDeps(path.join(M, '7.x/x86/tcz')), { onOrder: (names) => { early = names; } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResolveError);
    expect(early).toContain('git.tcz');
  });

  test('an unknown KERNEL name: no order is given (the walk fails)', async () => {
    let called = false;
    const err = await resolveExtensions(['scsi-KERNEL.tcz'], folderDeps(path.join(M, '14.x/x86_64/tcz')), {
      kernelVersion: undefined, onOrder: () => { called = true; },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResolveError);
    expect(called).toBe(false);
  });
});
