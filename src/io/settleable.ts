/**
 * A promise settled from outside: for work that waits on something another stage hands over later
 * (a file, a layer, the finished image).
 */
export interface Settleable<T> {
  promise: Promise<T>;
  resolve: (v: T | Promise<T>) => void;
  reject: (e: unknown) => void;
}

export function settleable<T>(): Settleable<T> {
  let resolve!: (v: T | Promise<T>) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej; });
  promise.catch(() => undefined); // may be failed when its work stops, whether or not anyone waits yet
  return { promise, resolve, reject };
}
