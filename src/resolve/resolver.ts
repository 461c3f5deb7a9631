import { ResolveError } from '../errors.js';
import { parseDepText, substituteKernel, withTcz } from './dep-file.js';

/** Where the walk reads from; names are extension file names such as 'curl.tcz'. */
export interface DepSource {
  /** The .dep text, or null when the extension has none (no dependencies). */
  depText(name: string): Promise<string | null>;
  /** Whether the .tcz itself is there (a mirror can list a .dep or .md5.txt and lack the payload). */
  exists(name: string): Promise<boolean>;
  /** Where missing files were looked for, for messages. */
  readonly where: string;
}

export interface ResolvedExtension {
  name: string;
  /** Direct dependencies, cleaned, .tcz appended, KERNEL substituted, in .dep line order. */
  deps: string[];
}

export interface Resolution {
  /** Dependencies before dependants, as tce-load installs them. */
  extensions: ResolvedExtension[];
  /** The recipe's own extensions (normalized), the roots of the tree. */
  roots: string[];
  warnings: string[];
}

export interface ResolveOptions {
  /** The version substituted for KERNEL; a function is called only if some name needs it. */
  kernelVersion?: string | (() => Promise<string | undefined>);
  /** How many .dep/existence requests run at once during the prefetch. */
  concurrency?: number;
  warn?: (msg: string) => void;
  /**
   * The install order, as soon as every .dep is read and before the payloads are all in: it is the
   * resolution's order whenever the resolution succeeds (a payload that is not there fails it), so a
   * build can start laying the image out while the downloads finish. Not called when the walk fails.
   */
  onOrder?: (names: string[]) => void;
}

interface NodeInfo {
  deps: string[];
  /** Dep lines whose KERNEL could not be substituted. */
  unknownKernel: string[];
  exists: boolean;
}

/**
 * tce-load's walk: depth-first, dependencies in .dep line order, each extension once, emitted after its
 * dependencies (post-order); a dependency already on the current path is a cycle, cut with a warning.
 * The .dep files are fetched first, breadth-first and concurrently, so a cold mirror costs a few round
 * trips of depth rather than one per extension; the order is then computed from the fetched graph alone.
 */
export async function resolveExtensions(requested: string[], src: DepSource, opts: ResolveOptions = {}): Promise<Resolution> {
  const warnings: string[] = [];
  const warn = (m: string): void => {
    if (warnings.includes(m)) return;
    warnings.push(m);
    opts.warn?.(m);
  };
  const kv = lazyKernel(opts.kernelVersion);
  const roots: string[] = [];
  const rootUnknown: string[] = [];
  for (const raw of requested) {
    const n = await kv(withTcz(raw));
    if (n === null) rootUnknown.push(withTcz(raw));
    else if (!roots.includes(n)) roots.push(n);
  }
  if (rootUnknown.length > 0) throw kernelError([rootUnknown[0]!, 'recipe']);

  const graph = await prefetch(roots, src, opts, kv);
  const { order, missing } = installOrder(roots, graph, warn);
  if (missing.length > 0) {
    const err = new ResolveError(missing[0]!, `${missing[0]![0]} is not on ${src.where}`);
    if (missing.length > 1) {
      err.message += `\n${missing.slice(1).map((c) => `also missing: ${c.join(' <- ')}`).join('\n')}`;
    }
    throw err;
  }
  return { extensions: order, roots, warnings };
}

/**
 * tce-load's order over a walked graph: dependencies first, each once; cycles cut (with `warn`);
 * a name whose payload is not there is collected in `missing` with its chain up to the recipe.
 */
function installOrder(roots: string[], graph: Map<string, NodeInfo>, warn: (m: string) => void): { order: ResolvedExtension[]; missing: string[][] } {
  const state = new Map<string, 'active' | 'done'>();
  const order: ResolvedExtension[] = [];
  const missing: string[][] = [];
  const visit = (name: string, path: string[]): void => {
    const mark = state.get(name);
    if (mark === 'done') return;
    if (mark === 'active') {
      const from = path.indexOf(name);
      warn(`dependency cycle cut: ${[...path.slice(from), name].join(' -> ')}`);
      return;
    }
    const info = graph.get(name)!;
    const chain = [name, ...[...path].reverse(), 'recipe'];
    if (!info.exists) {
      missing.push(chain);
      state.set(name, 'done');
      return;
    }
    if (info.unknownKernel.length > 0) throw kernelError([info.unknownKernel[0]!, ...chain]);
    state.set(name, 'active');
    path.push(name);
    for (const d of info.deps) visit(d, path);
    path.pop();
    state.set(name, 'done');
    order.push({ name, deps: info.deps });
  };
  for (const r of roots) visit(r, []);
  return { order, missing };
}

function kernelError(chain: string[]): ResolveError {
  return new ResolveError(
    chain,
    `${chain[0]} needs the kernel version (set kernel_version, or a kernel whose version can be read)`,
  );
}

type Substitute = (name: string) => Promise<string | null>;

function lazyKernel(given: ResolveOptions['kernelVersion']): Substitute {
  let version: Promise<string | undefined> | undefined;
  return async (name) => {
    if (!name.includes('-KERNEL.tcz')) return name;
    version ??= typeof given === 'function' ? given() : Promise.resolve(given);
    return substituteKernel(name, await version);
  };
}

async function prefetch(roots: string[], src: DepSource, opts: ResolveOptions, kv: Substitute): Promise<Map<string, NodeInfo>> {
  const graph = new Map<string, NodeInfo>();
  const limit = Math.max(1, opts.concurrency ?? 16);
  const queue: string[] = [];
  const seen = new Set<string>();
  const enqueue = (n: string): void => {
    if (seen.has(n)) return;
    seen.add(n);
    queue.push(n);
  };
  roots.forEach(enqueue);

  // Existence (for 'fetch' sources: the download itself) runs beside the walk: children are queued as
  // soon as the .dep text is read, so payload downloads never sit on the .dep critical path. Every such
  // promise is handled the moment it is made: a failure (a payload failing its md5) stops the walk from
  // starting more work, and the walk still waits for every request in flight before it reports it, so
  // nothing keeps writing to the cache once the error is out.
  let failure: unknown;
  const pending: Promise<void>[] = [];
  const load = async (name: string): Promise<void> => {
    const existsP = src.exists(name).then(
      (exists) => exists,
      (err: unknown) => { failure ??= err; return false; },
    );
    const node: NodeInfo = { deps: [], unknownKernel: [], exists: false };
    pending.push(existsP.then((exists) => { node.exists = exists; }));
    const text = await src.depText(name);
    for (const line of text === null ? [] : parseDepText(text)) {
      const d = await kv(withTcz(line));
      if (d === null) node.unknownKernel.push(withTcz(line));
      else node.deps.push(d);
    }
    graph.set(name, node);
    node.deps.forEach(enqueue);
  };

  // A worker pool over a growing queue: new names found by one load start as soon as a slot frees.
  await new Promise<void>((resolve) => {
    let running = 0;
    const pump = (): void => {
      while (failure === undefined && running < limit && queue.length > 0) {
        const name = queue.shift()!;
        running++;
        load(name).then(
          () => { running--; pump(); },
          (err: unknown) => { running--; failure ??= err; pump(); },
        );
      }
      if (running === 0 && (queue.length === 0 || failure !== undefined)) resolve();
    };
    pump();
  });
  if (failure === undefined && opts.onOrder && [...graph.values()].every((n) => n.unknownKernel.length === 0)) {
    // Every payload taken as there: the order the resolution gives when it succeeds.
    const assumed = new Map([...graph].map(([name, n]) => [name, { ...n, exists: true }]));
    opts.onOrder(installOrder(roots, assumed, () => undefined).order.map((e) => e.name));
  }
  await Promise.all(pending);
  if (failure !== undefined) throw failure;
  // An extension that is not there has no dependencies to walk.
  for (const node of graph.values()) if (!node.exists) { node.deps = []; node.unknownKernel = []; }
  return graph;
}
