/**
 * The shape of src/: layers by folder, value imports pointing only down the
 * list below (a module may import its own folder and the folders before it;
 * `import type` is free, since it vanishes at run time), and no import cycle
 * among value imports. Read from the source text, so a new cycle or an
 * upward import fails here in milliseconds.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/** The layers, lowest first. */
const LAYERS = ['errors.ts', 'methods', 'wgsl', 'mlp', 'kernels', 'runtime', 'field', 'solver', 'gradients', 'train', 'series', 'flows', 'index.ts'];

const SRC = resolve(import.meta.dirname, '../../src');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [join(dir, e.name)] : [],
  );
}

/** The .ts files a module imports by value (side-effect imports included; `import type` and type-only braces skipped). */
export function valueImports(file: string, text: string): string[] {
  const out: string[] = [];
  const re = /(?:^|\n)\s*(?:import|export)\s+(?:([^'";]*?)\s+from\s+)?['"](\.[^'"]+)['"]/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const clause = (m[1] ?? '').trim();
    if (/^type\b/.test(clause)) continue;
    const braces = clause.match(/^\{([\s\S]*)\}$/);
    if (braces && braces[1].split(',').map((s) => s.trim()).filter(Boolean).every((s) => s.startsWith('type '))) continue;
    const spec = m[2].split('?')[0];
    if (!/\.ts$/.test(spec) && /\.\w+$/.test(spec)) continue; // .wgsl and other assets
    out.push(resolve(dirname(file), spec.endsWith('.ts') ? spec : `${spec}.ts`));
  }
  return out;
}

function layerOf(file: string): number {
  const top = relative(SRC, file).split('/')[0];
  const i = LAYERS.indexOf(top);
  if (i < 0) throw new Error(`${relative(SRC, file)} is in no layer; add its folder to LAYERS`);
  return i;
}

/** Strongly connected components with more than one module (or a self-import): the import cycles. */
export function cycles(graph: Map<string, string[]>): string[][] {
  let index = 0;
  const stack: string[] = [];
  const on = new Set<string>();
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const found: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const c: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        c.push(w);
      } while (w !== v);
      if (c.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(c);
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return found;
}

const files = sources(SRC);
const graph = new Map(files.map((f) => [f, valueImports(f, readFileSync(f, 'utf8'))]));

describe('src/ layers', () => {
  it('has no import cycle among value imports', () => {
    const found = cycles(graph).map((c) => c.map((f) => relative(SRC, f)).sort().join(' → '));
    expect(found).toEqual([]);
  });

  it('imports only its own layer and the layers below it', () => {
    const upward: string[] = [];
    for (const [file, deps] of graph) {
      for (const dep of deps) {
        if (layerOf(dep) > layerOf(file)) upward.push(`${relative(SRC, file)} → ${relative(SRC, dep)}`);
      }
    }
    expect(upward).toEqual([]);
  });

  it('imports only files that exist', () => {
    const known = new Set(files);
    const missing = [...graph].flatMap(([f, deps]) => deps.filter((d) => !known.has(d)).map((d) => `${relative(SRC, f)} → ${relative(SRC, d)}`));
    expect(missing).toEqual([]);
  });

  it('finds a cycle and an upward import when there is one (the checks can fail)', () => {
    const a = join(SRC, 'kernels/a.ts');
    const b = join(SRC, 'kernels/b.ts');
    expect(cycles(new Map([[a, [b]], [b, [a]]]))).toHaveLength(1);
    expect(cycles(new Map([[a, [b]], [b, []]]))).toHaveLength(0);
    const text = "import type { X } from '../solver/solution';\nimport { type Y } from './b';\nimport { odeint } from '../solver/odeint';\nimport './c';\nimport s from './s.wgsl?raw';";
    expect(valueImports(a, text).map((f) => relative(SRC, f))).toEqual(['solver/odeint.ts', 'kernels/c.ts']);
    expect(layerOf(join(SRC, 'solver/odeint.ts'))).toBeGreaterThan(layerOf(a));
  });
});
