/**
 * Moves float arrays between Node (the tests) and the page (the harness) as
 * base64 strings of their float32 / float64 bytes: much faster than JSON for
 * 10^5-element arrays. Used on both sides (atob/btoa exist in both).
 */
export interface WireArray {
  readonly dtype: 'f32' | 'f64';
  readonly b64: string;
}

function toBase64(bytes: Uint8Array): string {
  let s = '';
  const CH = 0x8000;
  for (let i = 0; i < bytes.length; i += CH) s += String.fromCharCode(...bytes.subarray(i, i + CH));
  return btoa(s);
}

function fromBase64(b64: string): Uint8Array {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

export function encodeF32(data: ArrayLike<number>): WireArray {
  const f = data instanceof Float32Array ? data : Float32Array.from(data);
  return { dtype: 'f32', b64: toBase64(new Uint8Array(f.buffer, f.byteOffset, f.byteLength)) };
}

export function encodeF64(data: ArrayLike<number>): WireArray {
  const f = data instanceof Float64Array ? data : Float64Array.from(data);
  return { dtype: 'f64', b64: toBase64(new Uint8Array(f.buffer, f.byteOffset, f.byteLength)) };
}

export function decode(w: WireArray): Float32Array | Float64Array {
  const bytes = fromBase64(w.b64);
  return w.dtype === 'f32' ? new Float32Array(bytes.buffer) : new Float64Array(bytes.buffer);
}
