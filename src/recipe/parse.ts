import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node as YamlNode, type YAMLError } from 'yaml';
import type { z } from 'zod';
import { RecipeError } from '../errors.js';
import { Recipe, type RecipeDocument } from './schema.js';
import { withTcz } from './names.js';

/** Several recipe problems at once; `errors` holds each, the message lists them one per line. */
export class RecipeErrors extends RecipeError {
  constructor(readonly errors: RecipeError[]) {
    super(errors[0]!.where, errors[0]!.field, `${errors.length} problems`);
    this.message = errors.map((e) => e.message).join('\n');
  }
}

/** A recipe has no use for more alias expansions than this; yaml's own default scales with the document. */
const MAX_ALIAS_COUNT = 100;

/** yaml's first line, with the key named when it is a duplicate (yaml says only "must be unique"). */
function yamlMessage(e: YAMLError, text: string): string {
  const first = e.message.split('\n')[0]!;
  if (e.code === 'DUPLICATE_KEY') {
    const key = /^[^:\n]*/.exec(text.slice(e.pos[0]))![0].trim();
    return `duplicate key ${JSON.stringify(key)}: each field may appear once`;
  }
  return first;
}

/** Parses and validates recipe text; `name` is the file shown in error positions. */
export function parseRecipe(text: string, name: string): RecipeDocument {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const where = (offset: number): string => {
    const p = lc.linePos(offset);
    return `${name}:${p.line}:${p.col}`;
  };
  if (doc.errors.length > 0) {
    throw collect(doc.errors.map((e) => new RecipeError(where(e.pos[0]), '(yaml)', yamlMessage(e, text))));
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    // yaml refuses a "billion laughs" document here; anything else from toJS is a bug, not bad input.
    if (!(err instanceof ReferenceError)) throw err;
    let first = 0;
    visit(doc, { Alias: (_k, node) => { first ||= node.range?.[0] ?? 0; return visit.BREAK; } });
    throw new RecipeError(where(first), '(yaml)', /exhaustion/.test(err.message)
      ? `aliases expand to too many nodes (yaml's maxAliasCount ${MAX_ALIAS_COUNT}): refused as a resource exhaustion attack`
      : err.message.split('\n')[0]!);
  }
  if (value === null || value === undefined) {
    throw new RecipeError(`${name}:1:1`, '(recipe)', 'empty recipe: expected a mapping with name, release, arch, base');
  }
  const parsed = Recipe.safeParse(value);
  if (!parsed.success) {
    const located = flattenIssues(parsed.error.issues, value).map((iss) => ({ ...locate(doc, iss), message: iss.message }));
    located.sort((a, b) => a.offset - b.offset);
    throw collect(located.map((l) => new RecipeError(where(l.offset), l.field, l.message)));
  }
  return normalize(parsed.data);
}

/** What a user expects written one way: extension names end in .tcz. */
export function normalize<R extends { extensions?: string[] }>(recipe: R): R {
  if (!recipe.extensions) return recipe;
  return { ...recipe, extensions: recipe.extensions.map(withTcz) };
}

function collect(errs: RecipeError[]): RecipeError {
  return errs.length === 1 ? errs[0]! : new RecipeErrors(errs);
}

type Issue = z.core.$ZodIssue;
type Path = (string | number)[];

/**
 * A union failure says only "Invalid input"; the branch the value was meant for (same JSON type, or an
 * object sharing its keys) carries the useful message, so report that branch's issues instead.
 */
function flattenIssues(issues: readonly Issue[], root: unknown): { path: Path; message: string; key?: string }[] {
  const out: { path: Path; message: string; key?: string }[] = [];
  for (const iss of issues) {
    const p = iss.path.filter((k): k is string | number => typeof k !== 'symbol');
    if (iss.code === 'invalid_union' && iss.errors.length > 0) {
      const branches = iss.errors.map((b) => b.map((sub) => ({ ...sub, path: [...p, ...sub.path] }) as Issue));
      const typed = branches.filter((b) => !b.some((sub) => sub.code === 'invalid_type' && sub.path.length === p.length));
      if (typed.length > 0) {
        const value = valueAt(root, p);
        const best = typed.sort((a, b) => score(a, value) - score(b, value))[0]!;
        out.push(...flattenIssues(best, root));
        continue;
      }
      out.push({ path: p, message: valueAt(root, p) === undefined ? 'required field missing' : describeUnion(iss.errors) });
      continue;
    }
    if (iss.code === 'unrecognized_keys') {
      for (const key of iss.keys) out.push({ path: p, key, message: `unknown field "${key}"` });
      continue;
    }
    out.push({ path: p, message: friendly(iss, root) });
  }
  return out;
}

function score(branch: Issue[], value: unknown): number {
  // Fewer unknown keys means the branch's shape fits better; then fewer issues overall.
  let unknown = 0;
  for (const sub of branch) if (sub.code === 'unrecognized_keys') unknown += sub.keys.length;
  void value;
  return unknown * 100 + branch.length;
}

function describeUnion(branches: Issue[][]): string {
  const expected = new Set<string>();
  for (const b of branches) for (const sub of b) if (sub.code === 'invalid_type') expected.add(sub.expected);
  return expected.size > 0 ? `expected ${[...expected].join(' or ')}` : 'invalid value';
}

function friendly(iss: Issue, root: unknown): string {
  const p = iss.path.filter((k): k is string | number => typeof k !== 'symbol');
  const v = valueAt(root, p);
  if (iss.code === 'invalid_type') {
    const expected = iss.expected === 'int' ? 'a whole number' : iss.expected;
    if (v === undefined) return `required field missing (expected ${expected})`;
    if (typeof v === 'number' && !Number.isFinite(v)) return `expected a finite number, got ${String(v)}`;
    if (iss.expected === 'int' && typeof v === 'number') return `expected a whole number, got ${v}`;
    const hint = iss.expected === 'string' && typeof v === 'number' ? ' (put it in quotes)' : '';
    return `expected ${expected}, got ${typeName(v)}${hint}`;
  }
  if (iss.code === 'too_small' || iss.code === 'too_big') {
    const bound = Number(iss.code === 'too_small' ? iss.minimum : iss.maximum);
    const what = typeof v === 'string' ? 'characters' : Array.isArray(v) ? 'items' : '';
    const got = typeof v === 'string' ? v.length : Array.isArray(v) ? v.length : v;
    return `${iss.code === 'too_small' ? 'at least' : 'at most'} ${bound}${what ? ` ${what}` : ''}, got ${typeof v === 'string' ? `${JSON.stringify(v)} (${got})` : String(got)}`;
  }
  if (iss.code === 'custom') return `${JSON.stringify(v)}: ${iss.message}`;
  if (iss.code === 'invalid_value') {
    return `expected one of ${iss.values.map((x) => JSON.stringify(x)).join(', ')}, got ${JSON.stringify(v)}`;
  }
  if (iss.code === 'invalid_format') {
    // zod's own text for a pattern without a message is "Invalid string: must match pattern ...".
    if (/^Invalid/.test(iss.message)) return `${JSON.stringify(v)} is not allowed here (${iss.message.replace(/^Invalid string: /, '')})`;
    return `${JSON.stringify(v)} is not ${iss.message}`;
  }
  return iss.message;
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

function valueAt(root: unknown, p: Path): unknown {
  let cur: unknown = root;
  for (const k of p) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[k];
  }
  return cur;
}

/** The source offset of the node an issue is about, and its field path as `a.b[2].c`. */
export function locate(doc: Document, iss: { path: Path; key?: string }): { offset: number; field: string } {
  let node: unknown = doc.contents;
  let offset = (doc.contents as YamlNode | null)?.range?.[0] ?? 0;
  for (const k of iss.path) {
    const next = child(node, k);
    if (!next) break;
    node = next.value;
    offset = next.offset;
  }
  if (iss.key !== undefined && isMap(node)) {
    const pair = node.items.find((it) => isScalar(it.key) && it.key.value === iss.key);
    if (pair && isScalar(pair.key) && pair.key.range) offset = pair.key.range[0];
  }
  let field = '';
  for (const k of iss.path) field += typeof k === 'number' ? `[${k}]` : field ? `.${k}` : k;
  if (iss.key !== undefined) field += field ? `.${iss.key}` : iss.key;
  return { offset, field: field || '(recipe)' };
}

function child(node: unknown, k: string | number): { value: unknown; offset: number } | null {
  if (isMap(node)) {
    const pair = node.items.find((it) => isPair(it) && isScalar(it.key) && String(it.key.value) === String(k));
    if (!pair) return null;
    const v = pair.value as YamlNode | null;
    const off = v?.range?.[0] ?? (pair.key as YamlNode).range?.[0] ?? 0;
    return { value: v, offset: off };
  }
  if (isSeq(node) && typeof k === 'number') {
    const v = node.items[k] as YamlNode | undefined;
    if (!v) return null;
    return { value: v, offset: v.range?.[0] ?? 0 };
  }
  return null;
}

/** `files[0].src` -> ['files', 0, 'src']. */
export function fieldPath(field: string): Path {
  const out: Path = [];
  for (const m of field.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) out.push(m[2] !== undefined ? Number(m[2]) : m[1]!);
  return out;
}

/**
 * `file:line:column` of a field of recipe text, for an error found after parsing (a file the recipe
 * names is missing, a disk needs a kernel): the deepest node of the path that exists, else 1:1.
 */
export function fieldPosition(text: string, name: string, field: string): string {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false });
  const { offset } = locate(doc, { path: fieldPath(field) });
  const p = lc.linePos(offset);
  return `${name}:${p.line}:${p.col}`;
}
