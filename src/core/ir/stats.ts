import { FerryError, throwIfAborted } from '../errors.js';
import type { FileSet } from '../io/source.js';
import { bitsToF32, f16BitsToF32 } from '../convert/precision/float.js';
import type { TensorRef } from './checkpoint.js';
import type { DType } from './dtype.js';
import { DTYPES, numelOf } from './dtype.js';
import { readTensorChunks } from './materialize.js';

/**
 * Tensor statistics, streamed chunk by chunk (at most one chunk is decoded at a time, to float64 for
 * exact accumulation). mean/std are over the finite values only; std is the population standard deviation
 * (numpy's default, ddof = 0). min/max/mean/std are null when the tensor has no finite value.
 */
export interface TensorStats {
  min: number | null;
  max: number | null;
  mean: number | null;
  std: number | null;
  nanCount: number;
  infCount: number;
  zeroCount: number;
  numel: number;
}

// ---------------------------------------------------------------------------------------------------------
// Element decoders

/** Value tables for the 8-bit and sub-byte float formats (index = stored bits). */
const TABLES = new Map<DType, Float64Array>();

function minifloat(bits: number, expBits: number, manBits: number, bias: number, kind: 'ieee' | 'fn' | 'fnuz' | 'none'): number {
  const total = 1 + expBits + manBits;
  const sign = (bits >> (total - 1)) & 1;
  const e = (bits >> manBits) & ((1 << expBits) - 1);
  const m = bits & ((1 << manBits) - 1);
  const emax = (1 << expBits) - 1;
  if (kind === 'fnuz' && bits === 1 << (total - 1)) return NaN; // the negative-zero pattern is the NaN
  if (kind === 'ieee' && e === emax) return m ? NaN : sign ? -Infinity : Infinity;
  if (kind === 'fn' && e === emax && m === (1 << manBits) - 1) return NaN; // S.1111.111
  const v = e === 0 ? m * 2 ** (1 - bias - manBits) : (1 + m / (1 << manBits)) * 2 ** (e - bias);
  return sign ? -v : v;
}

function table(d: DType): Float64Array {
  let t = TABLES.get(d);
  if (t) return t;
  const build = (n: number, f: (b: number) => number): Float64Array => Float64Array.from({ length: n }, (_, b) => f(b));
  switch (d) {
    case 'F8_E4M3':
      t = build(256, (b) => minifloat(b, 4, 3, 7, 'fn'));
      break;
    case 'F8_E5M2':
      t = build(256, (b) => minifloat(b, 5, 2, 15, 'ieee'));
      break;
    case 'F8_E4M3FNUZ':
      t = build(256, (b) => minifloat(b, 4, 3, 8, 'fnuz'));
      break;
    case 'F8_E5M2FNUZ':
      t = build(256, (b) => minifloat(b, 5, 2, 16, 'fnuz'));
      break;
    case 'F8_E8M0':
      // OCP MX scale: unsigned, value 2^(e-127), 0xFF is NaN.
      t = build(256, (b) => (b === 0xff ? NaN : 2 ** (b - 127)));
      break;
    case 'F4':
      t = build(16, (b) => minifloat(b, 2, 1, 1, 'none'));
      break;
    case 'F6_E2M3':
      t = build(64, (b) => minifloat(b, 2, 3, 1, 'none'));
      break;
    case 'F6_E3M2':
      t = build(64, (b) => minifloat(b, 3, 2, 3, 'none'));
      break;
    default:
      throw new FerryError('E_INTERNAL', `no value table for ${d}`);
  }
  TABLES.set(d, t);
  return t;
}

/**
 * Decode `count` elements of contiguous little-endian `dtype` bytes into `out` (float64, or float32 with
 * the usual rounding). Sub-byte types are packed little-endian: element i occupies bits [i·b, i·b + b) of
 * the byte stream, least significant bit first. Complex types are refused (E_UNSUPPORTED).
 */
function decodeInto(bytes: Uint8Array, dtype: DType, out: Float64Array | Float32Array, count: number): void {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dtype) {
    case 'BOOL':
      for (let i = 0; i < count; i++) out[i] = dv.getUint8(i) ? 1 : 0;
      return;
    case 'U8':
      for (let i = 0; i < count; i++) out[i] = dv.getUint8(i);
      return;
    case 'I8':
      for (let i = 0; i < count; i++) out[i] = dv.getInt8(i);
      return;
    case 'U16':
      for (let i = 0; i < count; i++) out[i] = dv.getUint16(i * 2, true);
      return;
    case 'I16':
      for (let i = 0; i < count; i++) out[i] = dv.getInt16(i * 2, true);
      return;
    case 'U32':
      for (let i = 0; i < count; i++) out[i] = dv.getUint32(i * 4, true);
      return;
    case 'I32':
      for (let i = 0; i < count; i++) out[i] = dv.getInt32(i * 4, true);
      return;
    case 'U64':
      for (let i = 0; i < count; i++) out[i] = Number(dv.getBigUint64(i * 8, true));
      return;
    case 'I64':
      for (let i = 0; i < count; i++) out[i] = Number(dv.getBigInt64(i * 8, true));
      return;
    case 'F16':
      for (let i = 0; i < count; i++) out[i] = f16BitsToF32(dv.getUint16(i * 2, true));
      return;
    case 'BF16':
      for (let i = 0; i < count; i++) out[i] = bitsToF32(dv.getUint16(i * 2, true) << 16);
      return;
    case 'F32':
      for (let i = 0; i < count; i++) out[i] = dv.getFloat32(i * 4, true);
      return;
    case 'F64':
      for (let i = 0; i < count; i++) out[i] = dv.getFloat64(i * 8, true);
      return;
    case 'F8_E4M3':
    case 'F8_E5M2':
    case 'F8_E4M3FNUZ':
    case 'F8_E5M2FNUZ':
    case 'F8_E8M0': {
      const t = table(dtype);
      for (let i = 0; i < count; i++) out[i] = t[bytes[i] as number] as number;
      return;
    }
    case 'F4':
    case 'F6_E2M3':
    case 'F6_E3M2': {
      const t = table(dtype);
      const b = DTYPES[dtype].bits;
      const mask = (1 << b) - 1;
      for (let i = 0; i < count; i++) {
        const bit = i * b;
        const byte = bit >> 3;
        const word = (bytes[byte] as number) | ((bytes[byte + 1] ?? 0) << 8);
        out[i] = t[(word >> (bit & 7)) & mask] as number;
      }
      return;
    }
    case 'C64':
    case 'C128':
      throw new FerryError('E_UNSUPPORTED', `${dtype} (complex) values cannot be decoded to real numbers`);
  }
}

/** Elements per whole-byte group: chunks are cut at group boundaries. */
function group(dtype: DType): { elems: number; bytes: number } {
  const bits = DTYPES[dtype].bits;
  if (bits % 8 === 0) return { elems: 1, bytes: bits / 8 };
  // 4-bit: 2 elements in 1 byte; 6-bit: 4 elements in 3 bytes.
  const elems = 8 / gcd(bits, 8);
  return { elems, bytes: (elems * bits) / 8 };
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/**
 * Decode contiguous little-endian bytes of `dtype` to float32 (64-bit integers and F64 are rounded to the
 * nearest float32). The element count is floor(bits / element bits). Refuses complex dtypes.
 */
export function decodeToFloat32(bytes: Uint8Array, dtype: DType): Float32Array {
  const count = Math.floor((bytes.byteLength * 8) / DTYPES[dtype].bits);
  const out = new Float32Array(count);
  decodeInto(bytes, dtype, out, count);
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Streaming statistics

export async function tensorStats(ref: TensorRef, files: FileSet, opts: { signal?: AbortSignal | undefined; chunkBytes?: number | undefined } = {}): Promise<TensorStats> {
  const dtype = ref.dtype;
  if (DTYPES[dtype].kind === 'complex') {
    throw new FerryError('E_UNSUPPORTED', `statistics of ${dtype} (complex) tensors are not supported`, { tensor: ref.name });
  }
  const numel = numelOf(ref.shape);
  const g = group(dtype);
  const chunkBytes = Math.max(g.bytes, Math.floor((opts.chunkBytes ?? 4 << 20) / g.bytes) * g.bytes);
  let min = Infinity;
  let max = -Infinity;
  let nanCount = 0;
  let infCount = 0;
  let zeroCount = 0;
  // Chan et al. parallel merge of per-chunk (count, mean, M2) in float64.
  let n = 0;
  let mean = 0;
  let m2 = 0;
  let seen = 0;
  let carry = new Uint8Array(0);
  let buf = new Float64Array(0);

  const consume = (bytes: Uint8Array, count: number): void => {
    if (buf.length < count) buf = new Float64Array(count);
    decodeInto(bytes, dtype, buf, count);
    let cn = 0;
    let csum = 0;
    for (let i = 0; i < count; i++) {
      const v = buf[i] as number;
      if (v !== v) {
        nanCount++;
        continue;
      }
      if (v === Infinity || v === -Infinity) {
        infCount++;
        continue;
      }
      if (v === 0) zeroCount++;
      if (v < min) min = v;
      if (v > max) max = v;
      cn++;
      csum += v;
    }
    if (cn === 0) return;
    const cmean = csum / cn;
    let cm2 = 0;
    for (let i = 0; i < count; i++) {
      const v = buf[i] as number;
      if (v - v === 0) {
        const d = v - cmean;
        cm2 += d * d;
      }
    }
    const total = n + cn;
    const delta = cmean - mean;
    mean += (delta * cn) / total;
    m2 += cm2 + (delta * delta * n * cn) / total;
    n = total;
  };

  for await (const chunk of readTensorChunks(ref, files, chunkBytes, { signal: opts.signal })) {
    throwIfAborted(opts.signal, { tensor: ref.name });
    let data = chunk;
    if (carry.length) {
      data = new Uint8Array(carry.length + chunk.length);
      data.set(carry);
      data.set(chunk, carry.length);
    }
    const groups = Math.floor(data.length / g.bytes);
    const count = Math.min(groups * g.elems, numel - seen);
    if (count > 0) consume(data.subarray(0, groups * g.bytes), count);
    seen += Math.max(0, count);
    carry = data.slice(groups * g.bytes);
  }
  if (carry.length && seen < numel) {
    // The last partial group of a sub-byte tensor (e.g. an odd number of F4 values).
    const padded = new Uint8Array(g.bytes);
    padded.set(carry);
    const count = numel - seen;
    consume(padded, count);
    seen += count;
  }
  if (seen !== numel) {
    throw new FerryError('E_INTERNAL', `decoded ${seen} of ${numel} elements`, { tensor: ref.name });
  }
  return {
    min: n ? min : null,
    max: n ? max : null,
    mean: n ? mean : null,
    std: n ? Math.sqrt(m2 / n) : null,
    nanCount,
    infCount,
    zeroCount,
    numel,
  };
}
