/**
 * One declaration per uniform struct: the WGSL struct text and the byte
 * packing both come from it, so offsets are never typed twice. Also the small
 * template filler used to specialise the .wgsl sources.
 */

/** Scalar field types allowed in a uniform struct (all 4 bytes). */
export type UniformType = 'u32' | 'i32' | 'f32';

/** A uniform or storage struct of 4-byte scalars, declared once for WGSL and for packing. */
export class StructLayout<K extends string> {
  readonly name: string;
  readonly fields: readonly (readonly [K, UniformType])[];
  /** Size in bytes, padded to 16 (uniform buffers require it; storage arrays of it stay aligned). */
  readonly byteSize: number;
  /** Stride in bytes of an array of this struct in a storage buffer (no padding: every field is 4-byte aligned). */
  readonly stride: number;

  constructor(name: string, fields: readonly (readonly [K, UniformType])[]) {
    this.name = name;
    this.fields = fields;
    this.byteSize = Math.max(16, Math.ceil((fields.length * 4) / 16) * 16);
    this.stride = fields.length * 4;
  }

  /** The WGSL struct declaration. */
  wgsl(): string {
    const body = this.fields.map(([k, t]) => `  ${k}: ${t},`).join('\n');
    return `struct ${this.name} {\n${body}\n}`;
  }

  /** Byte offset of a field. */
  offset(key: K): number {
    const i = this.fields.findIndex(([k]) => k === key);
    if (i < 0) throw new Error(`${this.name} has no field ${key}`);
    return i * 4;
  }

  /** Reads one struct at byte offset `base` of `view`. */
  unpack(view: DataView, base = 0): Record<K, number> {
    const out = new Map<K, number>();
    this.fields.forEach(([k, t], i) => {
      const at = base + i * 4;
      out.set(k, t === 'f32' ? view.getFloat32(at, true) : t === 'u32' ? view.getUint32(at, true) : view.getInt32(at, true));
    });
    return Object.fromEntries(out) as Record<K, number>;
  }

  /** Packs values into a buffer laid out as `wgsl()` declares. */
  pack(values: Readonly<Record<K, number>>): ArrayBuffer {
    const buf = new ArrayBuffer(this.byteSize);
    const view = new DataView(buf);
    this.fields.forEach(([k, t], i) => {
      const v = values[k];
      if (t === 'f32') view.setFloat32(i * 4, v, true);
      else if (t === 'u32') view.setUint32(i * 4, v >>> 0, true);
      else view.setInt32(i * 4, v | 0, true);
    });
    return buf;
  }
}

/**
 * Replaces every `${NAME}` marker in `source` with `values[NAME]`. Throws when a
 * marker has no value or a value is never used, so template and specialiser
 * cannot drift apart silently.
 */
export function fillTemplate(source: string, values: Readonly<Record<string, string | number>>): string {
  const used = new Set<string>();
  const out = source.replace(/\$\{([A-Z0-9_]+)\}/g, (_m, key: string) => {
    if (!(key in values) || values[key] === undefined) throw new Error(`WGSL template marker \${${key}} has no value`);
    used.add(key);
    return String(values[key]);
  });
  for (const key of Object.keys(values)) {
    if (!used.has(key)) throw new Error(`WGSL template value ${key} is not used by the template`);
  }
  return out;
}

/** Formats a float for WGSL source with full float32 precision (always has a '.' or exponent). */
export function f32Literal(x: number): string {
  if (!Number.isFinite(x)) throw new Error(`cannot write ${x} as a WGSL literal`);
  const s = Math.fround(x).toPrecision(9);
  const t = s.includes('e') ? s.replace(/\.?0+e/, 'e') : s.replace(/\.?0+$/, '');
  return /[.e]/.test(t) ? t : `${t}.0`;
}
