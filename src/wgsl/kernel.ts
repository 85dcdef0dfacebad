/**
 * One definition per kernel: its name, its bindings, its entry points and its
 * WGSL generator in one object. From the bindings record come the WGSL
 * declarations (`@group(0) @binding(i) var<…> name: type;`, numbered in the
 * record's order, with the structs they use), the bind-group layout and the
 * named bind (`Runtime.kernel(def, spec).bind({ name: buffer, … })`); the
 * pipeline cache key is derived from the name and the spec. Nothing here
 * touches a device: `Runtime.kernel` turns a definition into pipelines.
 */
import type { StructLayout } from './layout';

/** How a binding is accessed: a uniform, read-only storage, or read-write storage. */
export type BindingAccess = 'uniform' | 'read' | 'read_write';

/** One binding of a kernel: its access, its WGSL type and the structs that type uses. */
export interface Binding {
  readonly access: BindingAccess;
  /** The WGSL type of the variable, e.g. `Params`, `array<f32>`, `array<f32, 130>`, `array<Sample>`. */
  readonly type: string;
  /** Structs declared ahead of the bindings (deduplicated by name). */
  readonly structs: readonly StructLayout<string>[];
}

/** A uniform binding of one struct. */
export function uniform(layout: StructLayout<string>): Binding {
  return { access: 'uniform', type: layout.name, structs: [layout] };
}

/** Element of a storage array: a scalar type or a struct. */
export type StorageElement = 'f32' | 'u32' | 'i32' | 'vec4<f32>' | 'atomic<u32>' | 'atomic<i32>' | StructLayout<string>;

/**
 * A storage binding: `array<element>` (runtime-sized) or `array<element,
 * length>` (fixed). Every kernel that reads the parameters θ binds them with
 * their fixed length P: a load at a constant index is then checked when the
 * shader is compiled instead of being clamped against the buffer's length at
 * run time, and a dynamic index is clamped against a constant (measurably
 * faster). WebGPU checks at dispatch that the bound buffer is long enough.
 */
export function storage(access: 'read' | 'read_write', element: StorageElement = 'f32', length?: number): Binding {
  const name = typeof element === 'string' ? element : element.name;
  if (length !== undefined && !(Number.isInteger(length) && length > 0)) throw new Error(`storage array length ${length} is not a positive integer`);
  return {
    access,
    type: length === undefined ? `array<${name}>` : `array<${name}, ${length}>`,
    structs: typeof element === 'string' ? [] : [element],
  };
}

/** A storage binding of one struct (not an array of it), e.g. a summary the host reads back. */
export function storageStruct(access: 'read' | 'read_write', layout: StructLayout<string>): Binding {
  return { access, type: layout.name, structs: [layout] };
}

/** A record of bindings: its key order is the binding order (0, 1, 2, …) and its keys are the WGSL names. */
export type Bindings = Readonly<Record<string, Binding>>;

/** The declaration of one kernel. `S` is its compile-time spec, `B` its binding names, `E` its entry points. */
export interface KernelDef<S, B extends string, E extends string> {
  readonly name: string;
  /** The bindings, for a spec (names and accesses must not depend on the spec; array lengths may). */
  readonly bindings: (spec: S) => Readonly<Record<B, Binding>>;
  readonly entryPoints: readonly E[];
  /** The module's WGSL: `decls` holds the struct and binding declarations generated from `bindings`. */
  readonly wgsl: (spec: S, decls: string) => string;
}

/** Declares a kernel (checks its entry points; everything else is derived when it is used). */
export function defineKernel<S, B extends string, E extends string>(def: KernelDef<S, B, E>): KernelDef<S, B, E> {
  if (def.entryPoints.length === 0) throw new Error(`kernel ${def.name} has no entry point`);
  if (new Set(def.entryPoints).size !== def.entryPoints.length) throw new Error(`kernel ${def.name} lists an entry point twice`);
  return Object.freeze(def);
}

/** The binding order of a bindings record: its keys, as numbered. */
export function bindingNames<B extends string>(bindings: Readonly<Record<B, Binding>>): B[] {
  return Object.keys(bindings) as B[];
}

/** The WGSL declarations of a bindings record: each struct once, then one `var` per binding, numbered in order. */
export function declarations(bindings: Bindings): string {
  const structs = new Map<string, string>();
  for (const b of Object.values(bindings)) {
    for (const s of b.structs) {
      const text = s.wgsl();
      const seen = structs.get(s.name);
      if (seen !== undefined && seen !== text) throw new Error(`two different structs are named ${s.name}`);
      structs.set(s.name, text);
    }
  }
  const vars = Object.entries(bindings).map(([name, b], i) => {
    const space = b.access === 'uniform' ? 'uniform' : `storage, ${b.access}`;
    return `@group(0) @binding(${i}) var<${space}> ${name}: ${b.type};`;
  });
  return [...structs.values(), ...vars].join('\n\n');
}

/** The whole WGSL module of a kernel for a spec. */
export function kernelWgsl<S, B extends string, E extends string>(def: KernelDef<S, B, E>, spec: S): string {
  return def.wgsl(spec, declarations(def.bindings(spec)));
}

/** The bind-group layout entry type of an access. */
export function bufferBindingType(access: BindingAccess): GPUBufferBindingType {
  return access === 'uniform' ? 'uniform' : access === 'read' ? 'read-only-storage' : 'storage';
}

/**
 * A canonical text of a spec (object keys sorted), the spec part of every
 * cache key: two specs generate the same WGSL exactly when their keys agree.
 * Functions and cycles are refused (a spec is data).
 */
export function specKey(spec: unknown): string {
  const seen = new Set<object>();
  const walk = (v: unknown): string => {
    if (v === undefined) return 'u';
    if (v === null || typeof v === 'boolean' || typeof v === 'string') return JSON.stringify(v);
    if (typeof v === 'number') return Object.is(v, -0) ? '-0' : String(v);
    if (typeof v !== 'object') throw new Error(`a kernel spec holds a ${typeof v}; specs are data`);
    if (seen.has(v)) throw new Error('a kernel spec refers to itself');
    seen.add(v);
    const out = Array.isArray(v)
      ? `[${v.map(walk).join(',')}]`
      : `{${Object.keys(v)
          .sort()
          .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
          .map((k) => `${k}:${walk((v as Record<string, unknown>)[k])}`)
          .join(',')}}`;
    seen.delete(v);
    return out;
  };
  return walk(spec);
}
