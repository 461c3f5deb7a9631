import type { Resolution } from './resolver.js';

/**
 * The dependency tree under the recipe, drawn with ├─/└─. An extension is expanded where it first
 * appears; later appearances are marked "(above)" so shared subtrees (libX11 ...) are not repeated.
 */
export function formatTree(res: Resolution, label = 'recipe'): string {
  const deps = new Map(res.extensions.map((e) => [e.name, e.deps]));
  const shown = new Set<string>();
  const lines = [label];
  const walk = (names: string[], prefix: string, ancestors: string[]): void => {
    names.forEach((name, i) => {
      const last = i === names.length - 1;
      const cycle = ancestors.includes(name);
      const again = !cycle && shown.has(name) && (deps.get(name)?.length ?? 0) > 0;
      lines.push(`${prefix}${last ? '└─ ' : '├─ '}${name}${cycle ? ' (cycle)' : again ? ' (above)' : ''}`);
      if (cycle || again) return;
      shown.add(name);
      walk(deps.get(name) ?? [], prefix + (last ? '   ' : '│  '), [...ancestors, name]);
    });
  };
  walk(res.roots, '', []);
  return `${lines.join('\n')}\n`;
}
