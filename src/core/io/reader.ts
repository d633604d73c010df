import { FerryError } from '../errors.js';

/**
 * Bounds-checked little-endian reader over an in-memory buffer that was read from `file` at `base`.
 * Every error reports the absolute file offset.
 */
export class BinaryReader {
  private readonly view: DataView;
  pos = 0;

  constructor(
    readonly bytes: Uint8Array,
    readonly file: string,
    /** Absolute offset of bytes[0] in the file, for error messages. */
    readonly base = 0,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get length(): number {
    return this.bytes.byteLength;
  }
  get remaining(): number {
    return this.bytes.byteLength - this.pos;
  }
  get eof(): boolean {
    return this.pos >= this.bytes.byteLength;
  }
  /** Absolute file offset of the current position. */
  get offset(): number {
    return this.base + this.pos;
  }

  fail(code: 'E_TRUNCATED' | 'E_HEADER' | 'E_PICKLE' | 'E_PROTOBUF' | 'E_ZIP' | 'E_LIMIT', detail: string, at = this.pos): never {
    throw new FerryError(code, detail, { file: this.file, offset: this.base + at });
  }

  need(n: number): void {
    if (!Number.isSafeInteger(n) || n < 0) this.fail('E_LIMIT', `invalid length ${n}`);
    if (this.pos + n > this.bytes.byteLength) {
      this.fail('E_TRUNCATED', `needs ${n} bytes, ${this.remaining} left`);
    }
  }

  seek(pos: number): void {
    if (!Number.isSafeInteger(pos) || pos < 0 || pos > this.bytes.byteLength) this.fail('E_TRUNCATED', `seek to ${pos} outside buffer`);
    this.pos = pos;
  }

  skip(n: number): void {
    this.need(n);
    this.pos += n;
  }

  u8(): number {
    this.need(1);
    return this.view.getUint8(this.pos++);
  }
  i8(): number {
    this.need(1);
    return this.view.getInt8(this.pos++);
  }
  u16(): number {
    this.need(2);
    const v = this.view.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }
  i16(): number {
    this.need(2);
    const v = this.view.getInt16(this.pos, true);
    this.pos += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }
  i32(): number {
    this.need(4);
    const v = this.view.getInt32(this.pos, true);
    this.pos += 4;
    return v;
  }
  u32be(): number {
    this.need(4);
    const v = this.view.getUint32(this.pos, false);
    this.pos += 4;
    return v;
  }
  i32be(): number {
    this.need(4);
    const v = this.view.getInt32(this.pos, false);
    this.pos += 4;
    return v;
  }
  u16be(): number {
    this.need(2);
    const v = this.view.getUint16(this.pos, false);
    this.pos += 2;
    return v;
  }
  /** 64-bit unsigned as bigint. */
  u64big(): bigint {
    this.need(8);
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    return v;
  }
  i64big(): bigint {
    this.need(8);
    const v = this.view.getBigInt64(this.pos, true);
    this.pos += 8;
    return v;
  }
  /** 64-bit unsigned that must fit a JS safe integer (sizes, offsets). */
  u64(): number {
    const at = this.pos;
    const v = this.u64big();
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) this.fail('E_LIMIT', `64-bit value ${v} exceeds 2^53`, at);
    return Number(v);
  }
  f32(): number {
    this.need(4);
    const v = this.view.getFloat32(this.pos, true);
    this.pos += 4;
    return v;
  }
  f64(): number {
    this.need(8);
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }
  f64be(): number {
    this.need(8);
    const v = this.view.getFloat64(this.pos, false);
    this.pos += 8;
    return v;
  }
  /** A view (no copy) of the next n bytes. */
  bytesView(n: number): Uint8Array {
    this.need(n);
    const v = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }
  /** UTF-8 string of n bytes. */
  utf8(n: number): string {
    return UTF8.decode(this.bytesView(n));
  }
  /** Latin-1 string of n bytes (pickle SHORT_BINSTRING etc.). */
  latin1(n: number): string {
    const b = this.bytesView(n);
    let s = '';
    for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i] as number);
    return s;
  }
  /** Bytes up to (not including) the next `terminator`, which is consumed. */
  until(terminator: number, max = 1 << 20): Uint8Array {
    const start = this.pos;
    const end = this.bytes.indexOf(terminator, start);
    if (end < 0 || end - start > max) this.fail('E_TRUNCATED', `unterminated field (looking for byte ${terminator})`, start);
    this.pos = end + 1;
    return this.bytes.subarray(start, end);
  }
}

export const UTF8 = new TextDecoder('utf-8');
export const UTF8_ENCODER = new TextEncoder();
