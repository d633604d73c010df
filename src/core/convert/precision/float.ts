/**
 * Bit-exact float conversions. Narrowing casts round to nearest, ties to even, exactly as PyTorch's
 * CPU `.half()` (c10::Half, fp16_ieee_from_fp32_value) and `.bfloat16()` (c10::BFloat16 round_to_nearest_even)
 * do: overflow goes to ±Inf, subnormals are produced, NaN stays NaN (bf16: canonical 0x7FC0).
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function f32ToBits(x: number): number {
  f32[0] = x;
  return u32[0] as number;
}

export function bitsToF32(b: number): number {
  u32[0] = b >>> 0;
  return f32[0] as number;
}

/** IEEE binary16 bits → number (exact). */
export function f16BitsToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** binary16 bits → float32 bits, exact; NaN keeps its sign and payload (as PyTorch's fp16_ieee_to_fp32_value). */
export function f16BitsToF32Bits(h: number): number {
  if ((h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0) {
    return (((h & 0x8000) << 16) | 0x7f800000 | ((h & 0x3ff) << 13)) >>> 0;
  }
  return f32ToBits(f16BitsToF32(h));
}

/** float32 bits → binary16 bits, round-to-nearest-even. */
export function f32BitsToF16(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const man = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (man ? 0x200 | (man >>> 13) : 0); // Inf / NaN (quiet, payload kept)
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00; // overflow → Inf
  if (e <= 0) {
    // subnormal half (or zero)
    if (e < -10) return sign; // underflow to ±0
    const m = man | 0x800000; // implicit leading 1
    const shift = 14 - e; // 14..24
    const half = 1 << (shift - 1);
    const rest = m & ((1 << shift) - 1);
    let r = m >>> shift;
    if (rest > half || (rest === half && (r & 1) === 1)) r += 1;
    return sign | r; // r may carry into the exponent field: that is the correct smallest normal
  }
  let r = (e << 10) | (man >>> 13);
  const rest = man & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (r & 1) === 1)) r += 1; // may carry into exponent → Inf: correct
  return sign | r;
}

/** float32 bits → bfloat16 bits, round-to-nearest-even; NaN → 0x7FC0 (PyTorch's canonical NaN). */
export function f32BitsToBf16(x: number): number {
  if ((x & 0x7fffffff) > 0x7f800000) return 0x7fc0;
  const lsb = (x >>> 16) & 1;
  return ((x + 0x7fff + lsb) >>> 16) & 0xffff;
}

export function bf16BitsToF32Bits(b: number): number {
  return (b << 16) >>> 0;
}

export type FloatDType = 'F32' | 'F16' | 'BF16' | 'F64';

/**
 * Cast a contiguous little-endian float buffer between F64/F32/F16/BF16. Returns a new buffer
 * (or the input when from === to). F64 sources are first rounded to F32 (like torch .float()).
 */
export function castFloatBytes(src: Uint8Array, from: FloatDType, to: FloatDType): Uint8Array {
  if (from === to) return src;
  const n = src.byteLength / bytesPer(from);
  // Step 1: to float32 bits.
  let bits: Uint32Array;
  if (from === 'F32') {
    bits = alignedU32(src);
  } else if (from === 'F16') {
    const h = alignedU16(src);
    bits = new Uint32Array(n);
    for (let i = 0; i < n; i++) bits[i] = f16BitsToF32Bits(h[i] as number);
  } else if (from === 'BF16') {
    const h = alignedU16(src);
    bits = new Uint32Array(n);
    for (let i = 0; i < n; i++) bits[i] = (h[i] as number) << 16;
  } else {
    const d = alignedF64(src);
    bits = new Uint32Array(Float32Array.from(d).buffer);
  }
  if (to === 'F32') return new Uint8Array(bits.buffer, bits.byteOffset, n * 4);
  if (to === 'F64') {
    const f = new Float32Array(bits.buffer, bits.byteOffset, n);
    return new Uint8Array(Float64Array.from(f).buffer);
  }
  const out = new Uint16Array(n);
  if (to === 'F16') for (let i = 0; i < n; i++) out[i] = f32BitsToF16(bits[i] as number);
  else for (let i = 0; i < n; i++) out[i] = f32BitsToBf16(bits[i] as number);
  return new Uint8Array(out.buffer);
}

function bytesPer(d: FloatDType): number {
  return d === 'F64' ? 8 : d === 'F32' ? 4 : 2;
}

function alignedU32(b: Uint8Array): Uint32Array {
  const c = b.byteOffset % 4 === 0 ? b : b.slice();
  return new Uint32Array(c.buffer, c.byteOffset, c.byteLength / 4);
}
function alignedU16(b: Uint8Array): Uint16Array {
  const c = b.byteOffset % 2 === 0 ? b : b.slice();
  return new Uint16Array(c.buffer, c.byteOffset, c.byteLength / 2);
}
function alignedF64(b: Uint8Array): Float64Array {
  const c = b.byteOffset % 8 === 0 ? b : b.slice();
  return new Float64Array(c.buffer, c.byteOffset, c.byteLength / 8);
}
