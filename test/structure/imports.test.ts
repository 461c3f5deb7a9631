import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { REPO_ROOT } from '../helpers/env.js';
import { cycles, readImportGraph, upwardEdges, type Floors, type ImportGraph } from './import-graph.js';

/**
 * The floors of src/, lowest first: the pipeline's order (README, "How it is built"). The pure formats
 * sit low because sources read them too (a TC ISO is ISO9660; an initramfs is cpio).
 */
const FLOORS: Floors = [
  ['.'], // errors.ts, canonical-json.ts
  ['formats'],
  ['io'],
  ['cache'],
  ['recipe'],
  ['mirror'],
  ['resolve'],
  ['pipeline'],
  ['rootfs'],
  ['sbom'],
  ['outputs'],
  ['cli'],
];

/** Both outputs are thin writers over the same assembled layers: neither leans on the other. */
const APART = [['outputs/docker', 'outputs/disk']] as const;

describe('the import graph of src/', () => {
  const graph = readImportGraph(path.join(REPO_ROOT, 'src'));

  test('is read: every folder is there and imports are found', () => {
    const stages = new Set([...graph.keys()].map((f) => f.split('/')[0]));
    expect([...stages].sort()).toEqual(expect.arrayContaining(['cache', 'cli', 'formats', 'io', 'mirror', 'outputs', 'pipeline', 'recipe', 'resolve', 'rootfs', 'sbom']));
    expect(graph.get('pipeline/prepare.ts')).toContain('resolve/session.ts'); // a dynamic import counts
    expect(graph.get('resolve/prepared.ts')).toContain('cache/cached-file.ts'); // so does a type-only one
  });

  test('no import runs from a lower stage to a higher one', () => {
    expect(upwardEdges(graph, FLOORS, APART)).toEqual([]);
  });

  test('no cycle, not even through type-only imports', () => {
    expect(cycles(graph)).toEqual([]);
  });
});

describe('the checks themselves', () => {
  const g: ImportGraph = new Map([
    ['errors.ts', []],
    ['mirror/http.ts', ['pipeline/prepare.ts', 'errors.ts']],
    ['pipeline/prepare.ts', ['mirror/http.ts']],
    ['outputs/disk/index.ts', ['outputs/docker/build.ts']],
    ['outputs/docker/build.ts', []],
  ]);

  test('an upward edge and an edge between folders kept apart are reported with both files', () => {
    expect(upwardEdges(g, FLOORS, APART)).toEqual([
      'mirror/http.ts (mirror) -> pipeline/prepare.ts (pipeline): imports a higher stage',
      'outputs/disk/index.ts -> outputs/docker/build.ts: outputs/docker and outputs/disk are kept apart',
    ]);
  });

  test('a circle is reported with its files', () => {
    expect(cycles(g)).toEqual([['mirror/http.ts', 'pipeline/prepare.ts']]);
  });
});
