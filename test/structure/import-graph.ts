/**
 * The import graph of src/, read with TypeScript's own pre-processor: static, type-only and dynamic
 * imports and re-exports all count (a type-only circle is still a circle in the design).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

/** Files by path relative to src/ (e.g. 'resolve/session.ts') -> the src files they import. */
export type ImportGraph = Map<string, string[]>;

export function readImportGraph(srcDir: string): ImportGraph {
  const files = listTs(srcDir);
  const graph: ImportGraph = new Map();
  for (const rel of files) {
    const text = readFileSync(path.join(srcDir, rel), 'utf8');
    const { importedFiles } = ts.preProcessFile(text, true, true);
    const targets = importedFiles
      .map((f) => f.fileName)
      .filter((spec) => spec.startsWith('.'))
      .map((spec) => path.posix.normalize(path.posix.join(path.posix.dirname(rel), spec)).replace(/\.js$/, '.ts'));
    graph.set(rel, [...new Set(targets)].sort());
  }
  return graph;
}

function listTs(root: string, sub = ''): string[] {
  return readdirSync(path.join(root, sub), { withFileTypes: true }).flatMap((d) => {
    const rel = sub ? `${sub}/${d.name}` : d.name;
    if (d.isDirectory()) return listTs(root, rel);
    return d.isFile() && d.name.endsWith('.ts') && !d.name.endsWith('.d.ts') ? [rel] : [];
  });
}

/** The stage a file belongs to: its top folder under src/ ('.' for src/errors.ts and the like). */
export function stageOf(rel: string): string {
  const parts = rel.split('/');
  return parts.length === 1 ? '.' : parts[0]!;
}

/** Floors lowest first; a stage may import its own floor's folder or any lower floor, never a higher one. */
export type Floors = readonly (readonly string[])[];

/**
 * Edges that run to a higher floor, or between folders that share a floor, or between two folders kept
 * apart (`apart`: pairs of folders, e.g. two outputs that must only meet in the layers they share).
 */
export function upwardEdges(graph: ImportGraph, floors: Floors, apart: readonly (readonly [string, string])[] = []): string[] {
  const floorOf = new Map<string, number>();
  floors.forEach((stages, i) => { for (const s of stages) floorOf.set(s, i); });
  const within = (rel: string, folder: string): boolean => rel.startsWith(`${folder}/`);
  const problems: string[] = [];
  for (const [from, tos] of graph) {
    const a = stageOf(from);
    const fa = floorOf.get(a);
    if (fa === undefined) { problems.push(`${from}: folder ${a} is on no floor`); continue; }
    for (const to of tos) {
      const b = stageOf(to);
      const fb = floorOf.get(b);
      if (!graph.has(to)) problems.push(`${from} -> ${to}: no such file in src/`);
      else if (fb === undefined) problems.push(`${from} -> ${to}: folder ${b} is on no floor`);
      else if (fb > fa) problems.push(`${from} (${a}) -> ${to} (${b}): imports a higher stage`);
      else if (fb === fa && a !== b) problems.push(`${from} (${a}) -> ${to} (${b}): folders on one floor lean on each other`);
      else {
        for (const [x, y] of apart) {
          if ((within(from, x) && within(to, y)) || (within(from, y) && within(to, x))) {
            problems.push(`${from} -> ${to}: ${x} and ${y} are kept apart`);
          }
        }
      }
    }
  }
  return problems;
}

/** Every cycle's files (strongly connected components of more than one file, or a file importing itself). */
export function cycles(graph: ImportGraph): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter);
    counter++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(scc.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}
