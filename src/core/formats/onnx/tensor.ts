import { FerryError } from '../../errors.js';
import type { ByteSource, FileSet } from '../../io/source.js';
import { dirname, joinPath } from '../../io/source.js';
import {
  LazyProtoReader,
  WIRE_I32,
  WIRE_I64,
  WIRE_LEN,
  WIRE_VARINT,
  expectWire,
  fieldInt32,
  fieldSafeInt,
  forEachScalar,
  packedCount,
} from '../../io/protobuf.js';
import type { ProtoField } from '../../io/protobuf.js';
import { byteLengthOf, dtypeBits } from '../../ir/dtype.js';
import type { ByteSpan, TensorRef } from '../../ir/checkpoint.js';
import { onnxDataType } from './dtypes.js';
import type { OnnxDataField } from './dtypes.js';

/** TensorProto field numbers (onnx.proto). */
export const TENSOR = {
  dims: 1,
  data_type: 2,
  segment: 3,
  float_data: 4,
  int32_data: 5,
  string_data: 6,
  int64_data: 7,
  name: 8,
  raw_data: 9,
  double_data: 10,
  uint64_data: 11,
  doc_string: 12,
  external_data: 13,
  data_location: 14,
  metadata_props: 16,
} as const;

const FIELD_OF: Record<number, OnnxDataField> = {
  4: 'float_data',
  5: 'int32_data',
  6: 'string_data',
  7: 'int64_data',
  10: 'double_data',
  11: 'uint64_data',
};

/** Result of reading a TensorProto: a TensorRef, or the reason it cannot be represented (string, int4…). */
export type OnnxTensorResult =
  | { kind: 'tensor'; ref: TensorRef; externalFile?: string | undefined }
  | { kind: 'skipped'; name: string; reason: string };

export interface TensorReadOptions {
  /** Files for external data, resolved relative to `entry` (the .onnx file). */
  files?: FileSet | undefined;
  /** Name of the .onnx file (defaults to the reader's file). */
  entry?: string | undefined;
  /** Name used when the TensorProto has none (e.g. a Constant node's value). */
  fallbackName?: string | undefined;
}

/** Largest typed-field payload decoded into memory per tensor. */
const MAX_TYPED_PAYLOAD = 1 << 30;

/**
 * Read a TensorProto whose encoded message is `r`. raw_data becomes a lazy span, typed fields become inline
 * little-endian bytes, external data is resolved through `opts.files`.
 */
export async function readTensorProto(r: LazyProtoReader, opts: TensorReadOptions = {}): Promise<OnnxTensorResult> {
  const file = r.file;
  const dims: number[] = [];
  let dataType = 0;
  let name: string | undefined;
  let raw: ProtoField | undefined;
  let location = 0;
  let segment = false;
  const external: { key: string; value: string; at: number }[] = [];
  const typed: { field: ProtoField; payload: Uint8Array | undefined }[] = [];
  const start = r.start;

  for (let f = await r.next(); f; f = await r.next()) {
    switch (f.field) {
      case TENSOR.dims: {
        const payload = f.wire === WIRE_LEN ? await r.payload(f, 1 << 20) : undefined;
        forEachScalar(f, payload, WIRE_VARINT, file, (lo, hi) => {
          const v = fieldSafeInt({ ...f, lo, hi }, file);
          if (v < 0) throw new FerryError('E_SHAPE', `negative dimension ${v}`, { file, offset: f.offset });
          dims.push(v);
        });
        break;
      }
      case TENSOR.data_type:
        expectWire(f, WIRE_VARINT, file);
        dataType = fieldInt32(f);
        break;
      case TENSOR.segment:
        segment = true;
        break;
      case TENSOR.name:
        name = await r.string(f, 1 << 20);
        break;
      case TENSOR.raw_data:
        expectWire(f, WIRE_LEN, file);
        raw = f;
        break;
      case TENSOR.external_data: {
        const m = await r.message(f, 1 << 20);
        let key = '';
        let value = '';
        for (let g = m.next(); g; g = m.next()) {
          if (g.field === 1) key = m.string(g);
          else if (g.field === 2) value = m.string(g);
        }
        external.push({ key, value, at: f.offset });
        break;
      }
      case TENSOR.data_location:
        expectWire(f, WIRE_VARINT, file);
        location = fieldInt32(f);
        break;
      case TENSOR.float_data:
      case TENSOR.int32_data:
      case TENSOR.int64_data:
      case TENSOR.double_data:
      case TENSOR.uint64_data:
      case TENSOR.string_data:
        typed.push({ field: f, payload: f.wire === WIRE_LEN && f.field !== TENSOR.string_data ? await r.payload(f, MAX_TYPED_PAYLOAD) : undefined });
        break;
      default:
        break; // doc_string, metadata_props, unknown fields
    }
  }

  const tname = name ?? opts.fallbackName ?? `tensor@${start}`;
  const where = { file, offset: start, tensor: tname };
  const t = onnxDataType(dataType);
  if (dataType === 0) throw new FerryError('E_DTYPE', 'tensor has no data_type (UNDEFINED)', where);
  if (!t) return { kind: 'skipped', name: tname, reason: `unknown ONNX data type ${dataType}` };
  if (segment) throw new FerryError('E_UNSUPPORTED', 'segmented tensors (TensorProto.segment) are not supported', where);
  if (!t.dtype) return { kind: 'skipped', name: tname, reason: `${t.name} tensors cannot be represented` };
  const dtype = t.dtype;
  let numel = 1;
  for (const d of dims) {
    numel *= d;
    if (!Number.isSafeInteger(numel)) throw new FerryError('E_LIMIT', `shape ${JSON.stringify(dims)} has too many elements`, where);
  }
  const expected = byteLengthOf(dtype, numel);

  if (location === 1) {
    return { kind: 'tensor', ...(await externalTensor(tname, dtype, dims, expected, external, r.win.src, opts)) };
  }
  if (location !== 0) throw new FerryError('E_PROTOBUF', `unknown data_location ${location}`, where);

  if (raw) {
    if (raw.length !== expected) {
      throw new FerryError('E_SHAPE', `raw_data has ${raw.length} bytes but ${dtype}${JSON.stringify(dims)} needs ${expected}`, { ...where, offset: raw.offset });
    }
    const span: ByteSpan = { file, offset: raw.offset, length: raw.length };
    return { kind: 'tensor', ref: { name: tname, dtype, shape: dims, data: { kind: 'spans', spans: [span], encoding: { kind: 'raw' } } } };
  }

  // Typed fields: only the field the data type names may carry values.
  const bytes = decodeTyped(typed, t.field, dtype, numel, expected, file, where);
  return { kind: 'tensor', ref: { name: tname, dtype, shape: dims, data: { kind: 'inline', bytes } } };
}

function decodeTyped(
  typed: { field: ProtoField; payload: Uint8Array | undefined }[],
  field: OnnxDataField | undefined,
  dtype: TensorRef['dtype'],
  numel: number,
  expected: number,
  file: string,
  where: { file: string; offset: number; tensor: string },
): Uint8Array {
  const bits = dtypeBits(dtype);
  for (const { field: f } of typed) {
    if (FIELD_OF[f.field] !== field) {
      throw new FerryError('E_PROTOBUF', `${FIELD_OF[f.field] ?? `field ${f.field}`} cannot hold ${dtype} values (expected ${field})`, { ...where, offset: f.tagOffset });
    }
  }
  const wire = field === 'float_data' ? WIRE_I32 : field === 'double_data' ? WIRE_I64 : WIRE_VARINT;
  // Values per element: complex types store real and imaginary parts as two values. Sub-byte types
  // (FLOAT4E2M1 here) store one packed byte (two elements, first in the low nibble) per int32_data value.
  const perElem = dtype === 'C64' || dtype === 'C128' ? 2 : 1;
  const values = bits < 8 ? expected : numel * perElem;
  const width = bits < 8 ? 1 : bits / 8 / perElem; // bytes per stored value
  let count = 0;
  for (const { payload } of typed) count += payload ? packedCount(payload, wire) : 1;
  if (count !== values) {
    throw new FerryError('E_SHAPE', `${field ?? 'data'} holds ${count} values but ${dtype}${bits < 8 ? ' (packed)' : ''} shape needs ${values}`, where);
  }
  const out = new Uint8Array(expected);
  const dv = new DataView(out.buffer);
  let i = 0;
  const put = (lo: number, hi: number): void => {
    if (i >= values) throw new FerryError('E_SHAPE', 'more values than the shape declares', where);
    const p = i * width;
    switch (width) {
      case 1:
        dv.setUint8(p, lo & 0xff);
        break;
      case 2:
        dv.setUint16(p, lo & 0xffff, true);
        break;
      case 4:
        dv.setUint32(p, lo >>> 0, true);
        break;
      case 8:
        dv.setUint32(p, lo >>> 0, true);
        dv.setUint32(p + 4, hi >>> 0, true);
        break;
      default:
        throw new FerryError('E_INTERNAL', `unexpected element width ${width}`, where);
    }
    i++;
  };
  for (const { field: f, payload } of typed) forEachScalar(f, payload, wire, file, put);
  if (i !== values) throw new FerryError('E_SHAPE', `decoded ${i} values, expected ${values}`, where);
  return out;
}

async function externalTensor(
  name: string,
  dtype: TensorRef['dtype'],
  dims: number[],
  expected: number,
  entries: { key: string; value: string; at: number }[],
  src: ByteSource,
  opts: TensorReadOptions,
): Promise<{ ref: TensorRef; externalFile: string }> {
  const entry = opts.entry ?? src.name;
  const where = { file: entry, tensor: name };
  const get = (k: string) => entries.find((e) => e.key === k);
  const loc = get('location');
  if (!loc || loc.value === '') throw new FerryError('E_PROTOBUF', "external tensor has no 'location'", { ...where, offset: entries[0]?.at });
  const num = (k: string): number | undefined => {
    const e = get(k);
    if (!e) return undefined;
    if (!/^\d+$/.test(e.value.trim())) throw new FerryError('E_PROTOBUF', `external_data '${k}' is not a non-negative integer: '${e.value}'`, { ...where, offset: e.at });
    const v = Number(e.value.trim());
    if (!Number.isSafeInteger(v)) throw new FerryError('E_LIMIT', `external_data '${k}' ${e.value} exceeds 2^53`, { ...where, offset: e.at });
    return v;
  };
  const offset = num('offset') ?? 0;
  const declared = num('length');
  if (!opts.files) {
    throw new FerryError('E_MISSING_FILE', `'${loc.value}' (external data) was not provided; add it next to ${entry}`, where);
  }
  let ext: ByteSource;
  try {
    ext = opts.files.require(entry, loc.value);
  } catch (e) {
    if (e instanceof FerryError) throw new FerryError(e.code, e.detail, { file: joinPath(dirname(entry), loc.value), tensor: name });
    throw e;
  }
  const length = declared ?? ext.size - offset;
  if (offset > ext.size || offset + length > ext.size) {
    throw new FerryError('E_TRUNCATED', `external data [${offset}, +${length}) lies outside '${ext.name}' (${ext.size} bytes)`, {
      file: ext.name,
      offset: Math.min(offset, ext.size),
      tensor: name,
    });
  }
  if (length !== expected) {
    throw new FerryError('E_SHAPE', `external data has ${length} bytes but ${dtype}${JSON.stringify(dims)} needs ${expected}`, { file: ext.name, offset, tensor: name });
  }
  return {
    ref: { name, dtype, shape: dims, data: { kind: 'spans', spans: [{ file: ext.name, offset, length }], encoding: { kind: 'raw' } } },
    externalFile: ext.name,
  };
}

/**
 * Read a serialized TensorProto file (e.g. the conformance suite's input_N.pb). Its bytes stay lazy
 * when stored as raw_data.
 */
export async function readTensorProtoFile(src: ByteSource, files?: FileSet): Promise<OnnxTensorResult> {
  return readTensorProto(LazyProtoReader.of(src), { files, entry: src.name });
}
