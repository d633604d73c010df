import { FerryError } from '../errors.js';
import type { ByteSource } from './source.js';

/**
 * Protocol Buffers wire-format decoding (https://protobuf.dev/programming-guides/encoding/), schema-less
 * and bounds-checked. Two readers share one field model:
 *
 * - `ProtoReader` decodes a message held in memory (small messages, `input_N.pb` files, sniffing).
 * - `LazyProtoReader` walks a message that lives in a `ByteSource` through a small buffered window and
 *   never reads a length-delimited payload unless asked to: huge fields (ONNX `raw_data`) are reported
 *   as (offset, length) so callers can record a ByteSpan instead of reading GBs.
 *
 * Every error is E_PROTOBUF (or E_TRUNCATED when the data runs past the end of the file) with the
 * absolute file offset of the byte at fault.
 */

export const WIRE_VARINT = 0;
export const WIRE_I64 = 1;
export const WIRE_LEN = 2;
export const WIRE_SGROUP = 3;
export const WIRE_EGROUP = 4;
export const WIRE_I32 = 5;

/** Nesting limit for groups (and for callers walking nested messages). */
export const MAX_DEPTH = 100;

export interface ProtoField {
  /** Field number (≥ 1). */
  field: number;
  wire: number;
  /** Absolute file offset of the field's tag. */
  tagOffset: number;
  /** Absolute file offset of the value (for WIRE_LEN: the first payload byte). */
  offset: number;
  /** WIRE_LEN: payload length; WIRE_I32: 4; WIRE_I64: 8; WIRE_VARINT: encoded length; groups: bytes to the end tag. */
  length: number;
  /** Low 32 bits of a varint / fixed value (unsigned). */
  lo: number;
  /** High 32 bits of a varint / fixed64 value (unsigned). */
  hi: number;
}

// ---------------------------------------------------------------------------------------------
// Scalar interpretation (the wire format does not say which of these a field is; the schema does)

/** uint64 / fixed64 as bigint. */
export function fieldUint64(f: ProtoField): bigint {
  return (BigInt(f.hi >>> 0) << 32n) | BigInt(f.lo >>> 0);
}
/** int64 / sfixed64 (two's complement) as bigint. */
export function fieldInt64(f: ProtoField): bigint {
  return BigInt.asIntN(64, fieldUint64(f));
}
/** int32 (protobuf truncates negative int64-encoded varints to their low 32 bits). */
export function fieldInt32(f: ProtoField): number {
  return f.lo | 0;
}
export function fieldUint32(f: ProtoField): number {
  return f.lo >>> 0;
}
export function fieldBool(f: ProtoField): boolean {
  return f.lo !== 0 || f.hi !== 0;
}
export function fieldSint32(f: ProtoField): number {
  return zigzag32(f.lo);
}
export function fieldSint64(f: ProtoField): bigint {
  return zigzag64(fieldUint64(f));
}
export function zigzag32(n: number): number {
  return (n >>> 1) ^ -(n & 1);
}
export function zigzag64(n: bigint): bigint {
  const u = BigInt.asUintN(64, n);
  return (u >> 1n) ^ -(u & 1n);
}
const SCRATCH = new DataView(new ArrayBuffer(8));
/** float (fixed32 bits). */
export function fieldFloat(f: ProtoField): number {
  SCRATCH.setUint32(0, f.lo >>> 0, true);
  return SCRATCH.getFloat32(0, true);
}
/** double (fixed64 bits). */
export function fieldDouble(f: ProtoField): number {
  SCRATCH.setUint32(0, f.lo >>> 0, true);
  SCRATCH.setUint32(4, f.hi >>> 0, true);
  return SCRATCH.getFloat64(0, true);
}

/**
 * int64 that must be a JS safe integer (sizes, dims, versions). Throws E_LIMIT naming the field's offset
 * otherwise.
 */
export function fieldSafeInt(f: ProtoField, file: string): number {
  const hi = f.hi >>> 0;
  const lo = f.lo >>> 0;
  if (hi < 0x200000) return hi * 0x100000000 + lo;
  const v = fieldInt64(f);
  if (v < BigInt(Number.MIN_SAFE_INTEGER) || v > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new FerryError('E_LIMIT', `integer ${v} in field ${f.field} exceeds 2^53`, { file, offset: f.offset });
  }
  return Number(v);
}

// ---------------------------------------------------------------------------------------------
// Low-level decoding on a byte array

interface Cursor {
  bytes: Uint8Array;
  pos: number;
  /** Exclusive end index of the current message in `bytes`. */
  end: number;
  /** Absolute file offset of bytes[0]. */
  base: number;
  file: string;
  /** Whether the message's end is the end of the file (overruns are then E_TRUNCATED). */
  endIsEof: boolean;
}

function overrun(c: Cursor, at: number, what: string): never {
  throw new FerryError(c.endIsEof ? 'E_TRUNCATED' : 'E_PROTOBUF', `${what} runs past the end of the ${c.endIsEof ? 'file' : 'message'}`, {
    file: c.file,
    offset: c.base + at,
  });
}

/** Decodes a varint at c.pos into [lo, hi]; advances c.pos. */
function varint(c: Cursor, out: [number, number]): void {
  const start = c.pos;
  const b = c.bytes;
  let lo = 0;
  let hi = 0;
  let i = 0;
  for (; ; i++) {
    if (c.pos >= c.end) overrun(c, start, 'varint');
    if (i >= 10) throw new FerryError('E_PROTOBUF', 'varint longer than 10 bytes', { file: c.file, offset: c.base + start });
    const byte = b[c.pos++] as number;
    const v = byte & 0x7f;
    if (i < 4) lo |= v << (7 * i);
    else if (i === 4) {
      lo |= (v & 0x0f) << 28;
      hi |= v >>> 4;
    } else hi |= v << (7 * i - 32);
    if ((byte & 0x80) === 0) break;
  }
  if (i === 9 && ((b[c.pos - 1] as number) & 0x7e) !== 0) {
    throw new FerryError('E_PROTOBUF', 'varint overflows 64 bits', { file: c.file, offset: c.base + start });
  }
  out[0] = lo >>> 0;
  out[1] = hi >>> 0;
}

const VT: [number, number] = [0, 0];

/**
 * Reads one field header (tag + scalar value, or the length of a LEN payload) at c.pos. For LEN fields the
 * payload is not consumed unless `skipPayload`; groups are skipped entirely.
 */
function header(c: Cursor, skipPayload: boolean, depth = 0): ProtoField {
  const tagPos = c.pos;
  varint(c, VT);
  if (VT[1] !== 0 || VT[0] >>> 3 === 0 || VT[0] >>> 3 > 0x1fffffff) {
    throw new FerryError('E_PROTOBUF', `invalid field tag ${VT[1] !== 0 ? '(>32 bits)' : VT[0]}`, { file: c.file, offset: c.base + tagPos });
  }
  const field = VT[0] >>> 3;
  const wire = VT[0] & 7;
  const valPos = c.pos;
  const f: ProtoField = { field, wire, tagOffset: c.base + tagPos, offset: c.base + valPos, length: 0, lo: 0, hi: 0 };
  switch (wire) {
    case WIRE_VARINT:
      varint(c, VT);
      f.lo = VT[0];
      f.hi = VT[1];
      f.length = c.pos - valPos;
      break;
    case WIRE_I64: {
      if (c.pos + 8 > c.end) overrun(c, valPos, `fixed64 field ${field}`);
      const b = c.bytes;
      const p = c.pos;
      f.lo = ((b[p] as number) | ((b[p + 1] as number) << 8) | ((b[p + 2] as number) << 16) | ((b[p + 3] as number) << 24)) >>> 0;
      f.hi = ((b[p + 4] as number) | ((b[p + 5] as number) << 8) | ((b[p + 6] as number) << 16) | ((b[p + 7] as number) << 24)) >>> 0;
      f.length = 8;
      c.pos += 8;
      break;
    }
    case WIRE_I32: {
      if (c.pos + 4 > c.end) overrun(c, valPos, `fixed32 field ${field}`);
      const b = c.bytes;
      const p = c.pos;
      f.lo = ((b[p] as number) | ((b[p + 1] as number) << 8) | ((b[p + 2] as number) << 16) | ((b[p + 3] as number) << 24)) >>> 0;
      f.length = 4;
      c.pos += 4;
      break;
    }
    case WIRE_LEN: {
      varint(c, VT);
      if (VT[1] !== 0 || VT[0] > 0x7fffffff) {
        // > 2 GiB payload: legal for lazy walking, but protobuf itself caps messages at 2 GiB.
        const len = VT[1] * 0x100000000 + VT[0];
        if (!Number.isSafeInteger(len)) throw new FerryError('E_PROTOBUF', `length ${len} of field ${field} is not a valid size`, { file: c.file, offset: c.base + valPos });
        f.length = len;
      } else f.length = VT[0];
      f.offset = c.base + c.pos;
      if (skipPayload) {
        if (c.pos + f.length > c.end) overrun(c, valPos, `field ${field} (${f.length} bytes)`);
        c.pos += f.length;
      }
      break;
    }
    case WIRE_SGROUP: {
      if (depth >= MAX_DEPTH) throw new FerryError('E_PROTOBUF', 'groups nested too deeply', { file: c.file, offset: c.base + tagPos });
      for (;;) {
        if (c.pos >= c.end) overrun(c, tagPos, `group ${field}`);
        const inner = header(c, true, depth + 1);
        if (inner.wire === WIRE_EGROUP) {
          if (inner.field !== field) {
            throw new FerryError('E_PROTOBUF', `group ${field} closed by end-group ${inner.field}`, { file: c.file, offset: inner.tagOffset });
          }
          break;
        }
      }
      f.length = c.pos - valPos;
      break;
    }
    case WIRE_EGROUP:
      if (depth === 0) throw new FerryError('E_PROTOBUF', `unexpected end-group tag for field ${field}`, { file: c.file, offset: c.base + tagPos });
      break;
    default:
      throw new FerryError('E_PROTOBUF', `invalid wire type ${wire} for field ${field}`, { file: c.file, offset: c.base + tagPos });
  }
  return f;
}

// ---------------------------------------------------------------------------------------------
// In-memory reader

/** Decodes a message held in memory. `base` is the absolute file offset of `bytes[0]`. */
export class ProtoReader {
  private readonly c: Cursor;

  constructor(
    readonly bytes: Uint8Array,
    readonly file: string,
    readonly base = 0,
    /** True when `bytes` ends where the file ends (overruns become E_TRUNCATED). */
    endIsEof = false,
  ) {
    this.c = { bytes, pos: 0, end: bytes.byteLength, base, file, endIsEof };
  }

  get eof(): boolean {
    return this.c.pos >= this.c.end;
  }
  /** Absolute file offset of the next field. */
  get offset(): number {
    return this.c.base + this.c.pos;
  }

  /** Next field (LEN payloads are skipped over; read them with `bytes()` / `message()`), or undefined at the end. */
  next(): ProtoField | undefined {
    if (this.c.pos >= this.c.end) return undefined;
    return header(this.c, true);
  }

  /** Payload of a LEN field (a view, no copy). */
  payload(f: ProtoField): Uint8Array {
    expectWire(f, WIRE_LEN, this.file);
    const start = f.offset - this.base;
    return this.bytes.subarray(start, start + f.length);
  }
  string(f: ProtoField): string {
    return UTF8.decode(this.payload(f));
  }
  /** A reader over a nested message. */
  message(f: ProtoField): ProtoReader {
    return new ProtoReader(this.payload(f), this.file, f.offset, false);
  }
}

export const UTF8 = new TextDecoder('utf-8');

export function expectWire(f: ProtoField, wire: number, file: string): void {
  if (f.wire !== wire) {
    throw new FerryError('E_PROTOBUF', `field ${f.field} has wire type ${f.wire}, expected ${wire}`, { file, offset: f.tagOffset });
  }
}

/**
 * Visits the values of a repeated scalar field, whether it was written packed (one LEN field) or not
 * (one field per value). `wire` is the scalar's own wire type (VARINT, I32 or I64). The callback gets
 * the low/high 32 bits of each value.
 */
export function forEachScalar(
  f: ProtoField,
  payload: Uint8Array | undefined,
  wire: number,
  file: string,
  cb: (lo: number, hi: number) => void,
): void {
  if (f.wire === wire) {
    cb(f.lo, f.hi);
    return;
  }
  if (f.wire !== WIRE_LEN || !payload) {
    throw new FerryError('E_PROTOBUF', `field ${f.field} has wire type ${f.wire}, expected ${wire} or packed`, { file, offset: f.tagOffset });
  }
  const c: Cursor = { bytes: payload, pos: 0, end: payload.byteLength, base: f.offset, file, endIsEof: false };
  if (wire === WIRE_VARINT) {
    while (c.pos < c.end) {
      varint(c, VT);
      cb(VT[0], VT[1]);
    }
    return;
  }
  const size = wire === WIRE_I32 ? 4 : 8;
  if (payload.byteLength % size !== 0) {
    throw new FerryError('E_PROTOBUF', `packed field ${f.field} has ${payload.byteLength} bytes, not a multiple of ${size}`, { file, offset: f.offset });
  }
  const dv = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  for (let p = 0; p < payload.byteLength; p += size) cb(dv.getUint32(p, true), size === 8 ? dv.getUint32(p + 4, true) : 0);
}

/** Number of values in a packed payload (for pre-sizing; varints are counted by their terminating bytes). */
export function packedCount(payload: Uint8Array, wire: number): number {
  if (wire === WIRE_I32) return payload.byteLength >>> 2;
  if (wire === WIRE_I64) return payload.byteLength >>> 3;
  let n = 0;
  for (let i = 0; i < payload.byteLength; i++) if (((payload[i] as number) & 0x80) === 0) n++;
  return n;
}

// ---------------------------------------------------------------------------------------------
// Lazy reader over a ByteSource

/**
 * A read-ahead window over a ByteSource: small reads are served from one cached chunk, so walking
 * field headers costs one `read` per `chunk` bytes, while skipped payloads are never read.
 */
export class ByteWindow {
  private buf: Uint8Array = new Uint8Array(0);
  private start = 0;
  /** Total bytes read from the source (for tests and progress). */
  bytesRead = 0;

  constructor(
    readonly src: ByteSource,
    readonly chunk = 1 << 16,
  ) {}

  /** Bytes [offset, offset+length) if already cached, else undefined. */
  peek(offset: number, length: number): Uint8Array | undefined {
    const i = offset - this.start;
    if (i >= 0 && i + length <= this.buf.byteLength) return this.buf.subarray(i, i + length);
    return undefined;
  }

  /** Exactly `length` bytes at `offset` (a view into the cache when possible). */
  async view(offset: number, length: number): Promise<Uint8Array> {
    const hit = this.peek(offset, length);
    if (hit) return hit;
    const len = Math.min(Math.max(length, this.chunk), this.src.size - offset);
    // Out of range: let the source raise its E_TRUNCATED / E_OFFSETS with the file name and offset.
    if (!(len >= length)) return this.src.read(offset, length);
    const b = await this.src.read(offset, len);
    this.bytesRead += b.byteLength;
    if (len <= this.chunk * 4) {
      this.buf = b;
      this.start = offset;
    }
    return b.subarray(0, length);
  }
}

/** Longest encoding of a tag plus a varint value / length. */
const MAX_HEADER = 20;

/**
 * Walks the fields of a message stored at [start, end) of a ByteSource without reading LEN payloads.
 */
export class LazyProtoReader {
  private pos: number;
  readonly file: string;

  constructor(
    readonly win: ByteWindow,
    readonly start: number,
    readonly end: number,
  ) {
    this.pos = start;
    this.file = win.src.name;
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start || end > win.src.size) {
      throw new FerryError('E_TRUNCATED', `message [${start}, ${end}) lies outside the file of ${win.src.size} bytes`, { file: this.file, offset: Math.min(start, win.src.size) });
    }
  }

  /** The whole source as one message. */
  static of(src: ByteSource, chunk?: number): LazyProtoReader {
    const w = new ByteWindow(src, chunk);
    return new LazyProtoReader(w, 0, src.size);
  }

  get eof(): boolean {
    return this.pos >= this.end;
  }
  get offset(): number {
    return this.pos;
  }

  async next(): Promise<ProtoField | undefined> {
    if (this.pos >= this.end) return undefined;
    const want = Math.min(MAX_HEADER, this.end - this.pos);
    let bytes = this.win.peek(this.pos, want);
    bytes ??= await this.win.view(this.pos, want);
    const c: Cursor = { bytes, pos: 0, end: want, base: this.pos, file: this.file, endIsEof: this.end === this.win.src.size };
    const tagStart = this.pos;
    // Groups may be longer than the header window: decode the tag alone first.
    if (peekWire(bytes) === WIRE_SGROUP) {
      return this.skipGroup(tagStart);
    }
    const f = header(c, false);
    if (f.wire === WIRE_LEN) {
      if (f.offset + f.length > this.end) overrun({ ...c, pos: 0 }, f.offset - tagStart, `field ${f.field} (${f.length} bytes)`);
      this.pos = f.offset + f.length;
    } else {
      this.pos = tagStart + c.pos;
    }
    return f;
  }

  /** Groups are rare (deprecated): read the rest of the message to skip one. */
  private async skipGroup(tagStart: number): Promise<ProtoField> {
    const len = this.end - tagStart;
    if (len > 64 << 20) throw new FerryError('E_LIMIT', 'group in a message larger than 64 MiB', { file: this.file, offset: tagStart });
    const bytes = await this.win.view(tagStart, len);
    const c: Cursor = { bytes, pos: 0, end: len, base: tagStart, file: this.file, endIsEof: this.end === this.win.src.size };
    const f = header(c, true);
    this.pos = tagStart + c.pos;
    return f;
  }

  /** Reads a LEN payload, refusing more than `limit` bytes. */
  async payload(f: ProtoField, limit = 256 << 20): Promise<Uint8Array> {
    expectWire(f, WIRE_LEN, this.file);
    if (f.length > limit) {
      throw new FerryError('E_LIMIT', `field ${f.field} is ${f.length} bytes, over the ${limit}-byte limit for this field`, { file: this.file, offset: f.offset });
    }
    return this.win.peek(f.offset, f.length) ?? (await this.win.view(f.offset, f.length));
  }
  async string(f: ProtoField, limit = 16 << 20): Promise<string> {
    return UTF8.decode(await this.payload(f, limit));
  }
  /** An in-memory reader over a (small) nested message. */
  async message(f: ProtoField, limit = 256 << 20): Promise<ProtoReader> {
    const p = await this.payload(f, limit);
    return new ProtoReader(p, this.file, f.offset, false);
  }
  /** A lazy reader over a nested message (shares this reader's window). */
  sub(f: ProtoField): LazyProtoReader {
    expectWire(f, WIRE_LEN, this.file);
    return new LazyProtoReader(this.win, f.offset, f.offset + f.length);
  }
}

function peekWire(bytes: Uint8Array): number {
  // wire type is in the low 3 bits of the first tag byte regardless of tag length
  return bytes.byteLength > 0 ? (bytes[0] as number) & 7 : -1;
}
