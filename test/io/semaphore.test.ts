import { describe, expect, test } from 'vitest';
import { Semaphore } from '../../src/io/semaphore.js';

const tick = () => new Promise<void>((r) => setImmediate(r));

describe('Semaphore', () => {
  test('at most `limit` at once; waiters asking to go first run before the others, each group in its order', async () => {
    const sem = new Semaphore(1);
    const ran: string[] = [];
    let active = 0;
    let most = 0;
    let open!: () => void;
    const gate = new Promise<void>((r) => { open = r; });
    const job = (name: string, wait?: Promise<void>) => async () => {
      active++;
      most = Math.max(most, active);
      ran.push(name);
      await (wait ?? tick());
      active--;
    };
    const all = [
      sem.run(job('holder', gate)),
      sem.run(job('payload1')),
      sem.run(job('payload2')),
      sem.run(job('dep1'), { first: true }),
      sem.run(job('dep2'), { first: true }),
    ];
    await tick();
    open();
    await Promise.all(all);
    expect(ran).toEqual(['holder', 'dep1', 'dep2', 'payload1', 'payload2']);
    expect(most).toBe(1);
  });

  test('a failing job frees its slot', async () => {
    const sem = new Semaphore(1);
    await expect(sem.run(async () => { throw new Error('boom'); })).rejects.toThrow('boom');
    expect(await sem.run(async () => 'next')).toBe('next');
  });
});
