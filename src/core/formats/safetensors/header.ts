import { FerryError } from '../../errors.js';
import type { ByteSource } from '../../io/source.js';
import type { DType } from '../../ir/dtype.js';
import { DTYPES, isDType } from '../../ir/dtype.js';
import type { TensorRef } from '../../ir/checkpoint.js';
import { scanJsonKeys, utf8Offset } from './json-scan.js';

/**
 * safetensors: 8-byte little-endian header length N, N bytes of UTF-8 JSON starting with '{'
 * (optionally padded with spaces), then the byte buffer. Every tensor is {dtype, shape, data_offsets}
 * with offsets relative to the buffer; the offsets must tile the buffer exactly (no holes, no overlap)
 * up to the end of the file. `__metadata__` is an optional string→string map.
 */

/** The reference implementation's limit (safetensors MAX_HEADER_SIZE). */
export const MAX_HEADER_SIZE = 100_000_000;

/** safetensors dtypes: every IR dtype except complex128. */
export const SAFETENSORS_DTYPES: readonly DType[] = (Object.keys(DTYPES) as DType[]).filter((d) => d !== 'C128');

export interface SafetensorsHeader {
  /** Absolute file offset of the byte buffer (8 + N). */
  dataStart: number;
  metadata: Record<string, string> | undefined;
  /** Tensors in header order, as lazy raw spans into `file`. */
  tensors: TensorRef[];
}

const UTF8_FATAL = new TextDecoder('utf-8', { fatal: true });

/** Parse and fully validate a safetensors header. Reads only the first 8 + N bytes. */
export async function readSafetensorsHeader(src: ByteSource): Promise<SafetensorsHeader> {
  const file = src.name;
  if (src.size < 8) {
    throw new FerryError('E_TRUNCATED', `file is ${src.size} bytes; a safetensors file starts with an 8-byte header length`, { file, offset: 0 });
  }
  const lenBytes = await src.read(0, 8);
  const n64 = new DataView(lenBytes.buffer, lenBytes.byteOffset, 8).getBigUint64(0, true);
  if (n64 > BigInt(MAX_HEADER_SIZE)) {
    throw new FerryError('E_HEADER_TOO_LARGE', `header length ${n64} exceeds the ${MAX_HEADER_SIZE}-byte limit`, { file, offset: 0 });
  }
  const n = Number(n64);
  if (8 + n > src.size) {
    throw new FerryError('E_TRUNCATED', `header length ${n} needs ${8 + n} bytes but the file has ${src.size}`, { file, offset: 0 });
  }
  const dataStart = 8 + n;
  const raw = n > 0 ? await src.read(8, n) : new Uint8Array(0);
  if (raw[0] !== 0x7b) {
    throw new FerryError('E_HEADER', `the JSON header must start with '{'${n === 0 ? ' (header length is 0)' : ''}`, { file, offset: 8 });
  }
  let text: string;
  try {
    text = UTF8_FATAL.decode(raw);
  } catch {
    throw new FerryError('E_HEADER', 'the header is not valid UTF-8', { file, offset: 8 + invalidUtf8Index(raw) });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    const m = /position (\d+)/.exec((e as Error).message);
    const at = m ? utf8Offset(text, Number(m[1])) : 0;
    throw new FerryError('E_HEADER', `the header is not valid JSON: ${(e as Error).message}`, { file, offset: 8 + at });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new FerryError('E_HEADER', 'the header is not a JSON object', { file, offset: 8 });
  }
  const scan = scanJsonKeys(text);
  if (scan.duplicate) {
    throw new FerryError('E_DUPLICATE', `'${scan.duplicate.path.join('.')}' is declared twice in the header`, {
      file,
      offset: 8 + utf8Offset(text, scan.duplicate.index),
      tensor: scan.duplicate.path.length === 1 ? scan.duplicate.key : scan.duplicate.path[0],
    });
  }
  const obj = parsed as Record<string, unknown>;
  const keyIndex = new Map<string, number>();
  scan.topLevelKeys.forEach((k, i) => keyIndex.set(k, scan.topLevelIndex[i] ?? 0));
  /** Absolute file offset of a top-level key. */
  const keyOffset = (key: string): number => 8 + utf8Offset(text, keyIndex.get(key) ?? 0);

  let metadata: Record<string, string> | undefined;
  const entries: { name: string; dtype: DType; shape: number[]; begin: number; end: number }[] = [];
  for (const name of scan.topLevelKeys) {
    const value = obj[name];
    if (name === '__metadata__') {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        throw new FerryError('E_HEADER', '__metadata__ must be an object of strings', { file, offset: keyOffset(name) });
      }
      metadata = {};
      for (const [k, v] of Object.entries(value)) {
        if (typeof v !== 'string') {
          throw new FerryError('E_HEADER', `__metadata__['${k}'] must be a string, got ${v === null ? 'null' : typeof v}`, { file, offset: keyOffset(name) });
        }
        metadata[k] = v;
      }
      continue;
    }
    // Computed only when an error is thrown (the offset costs a UTF-8 encode of the prefix).
    const where = (): { file: string; offset: number; tensor: string } => ({ file, offset: keyOffset(name), tensor: name });
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new FerryError('E_HEADER', 'tensor entry must be an object {dtype, shape, data_offsets}', where());
    }
    const e = value as Record<string, unknown>;
    const dtype = e.dtype;
    if (typeof dtype !== 'string') throw new FerryError('E_HEADER', "tensor entry has no string 'dtype'", where());
    if (!isDType(dtype) || dtype === 'C128') {
      throw new FerryError('E_DTYPE', `unknown safetensors dtype '${dtype}' (known: ${SAFETENSORS_DTYPES.join(', ')})`, where());
    }
    const shape = e.shape;
    if (!Array.isArray(shape)) throw new FerryError('E_HEADER', "tensor entry has no 'shape' array", where());
    for (const d of shape) {
      if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
        throw new FerryError('E_HEADER', `shape ${JSON.stringify(shape)} must hold non-negative integers`, where());
      }
    }
    const offs = e.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2) {
      throw new FerryError('E_HEADER', "tensor entry has no 'data_offsets' [begin, end]", where());
    }
    const [begin, end] = offs as unknown[];
    if (typeof begin !== 'number' || typeof end !== 'number' || !Number.isSafeInteger(begin) || !Number.isSafeInteger(end) || begin < 0 || end < begin) {
      throw new FerryError('E_OFFSETS', `data_offsets ${JSON.stringify(offs)} must be integers with 0 ≤ begin ≤ end`, where());
    }
    const dims = shape as number[];
    const expected = expectedBytes(dtype, dims);
    if (expected === undefined || expected !== end - begin) {
      throw new FerryError(
        'E_SHAPE',
        `${dtype}${JSON.stringify(dims)} ${expected === undefined ? 'is not a whole number of bytes' : `needs ${expected} bytes`} but data_offsets span ${end - begin}`,
        where(),
      );
    }
    entries.push({ name, dtype, shape: dims, begin, end });
  }

  // The buffer must be covered exactly: sorted by (begin, end), each range starts where the previous ended.
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  for (const t of sorted) {
    if (t.begin !== covered) {
      throw new FerryError(
        'E_OFFSETS',
        t.begin > covered ? `hole in the byte buffer: bytes [${covered}, ${t.begin}) belong to no tensor` : `byte range [${t.begin}, ${t.end}) overlaps another tensor (previous range ends at ${covered})`,
        { file, offset: dataStart + Math.min(t.begin, covered), tensor: t.name },
      );
    }
    covered = t.end;
  }
  const bufferSize = src.size - dataStart;
  if (covered > bufferSize) {
    const last = sorted[sorted.length - 1];
    throw new FerryError('E_TRUNCATED', `the header declares ${covered} data bytes but the file holds ${bufferSize}`, {
      file,
      offset: src.size,
      tensor: last?.name,
    });
  }
  if (covered < bufferSize) {
    throw new FerryError('E_OFFSETS', `${bufferSize - covered} trailing bytes after the last tensor belong to no tensor`, {
      file,
      offset: dataStart + covered,
    });
  }

  const tensors: TensorRef[] = entries.map((t) => ({
    name: t.name,
    dtype: t.dtype,
    shape: t.shape,
    data: { kind: 'spans', spans: [{ file, offset: dataStart + t.begin, length: t.end - t.begin }], encoding: { kind: 'raw' } },
  }));
  return { dataStart, metadata, tensors };
}

/** Exact byte length of dtype×shape, or undefined when it overflows or is not a whole number of bytes. */
export function expectedBytes(dtype: DType, shape: readonly number[]): number | undefined {
  let numel = 1;
  for (const d of shape) {
    numel *= d;
    if (!Number.isSafeInteger(numel)) return undefined;
  }
  const bits = numel * DTYPES[dtype].bits;
  if (!Number.isSafeInteger(bits) || bits % 8 !== 0) return undefined;
  return bits / 8;
}

/** Index of the first byte of the first invalid UTF-8 sequence (binary search over streamed prefixes). */
function invalidUtf8Index(b: Uint8Array): number {
  // With {stream: true} an incomplete sequence at the cut is not an error, so "prefix decodes" is monotonic.
  let lo = 0;
  let hi = b.length;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(b.subarray(0, mid), { stream: true });
      lo = mid;
    } catch {
      hi = mid - 1;
    }
  }
  // b[0, lo) decodes; the byte at lo completes an invalid sequence that may have started up to 3 bytes earlier.
  let start = lo;
  while (start > 0 && lo - start < 3 && ((b[start] ?? 0) & 0xc0) === 0x80) start--;
  return start;
}
