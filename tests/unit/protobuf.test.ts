import { describe, expect, it } from 'vitest';
import { FerryError } from '../../src/core/errors.js';
import { MemorySource } from '../../src/core/io/source.js';
import type { ByteSource } from '../../src/core/io/source.js';
import {
  LazyProtoReader,
  ProtoReader,
  WIRE_I32,
  WIRE_I64,
  WIRE_VARINT,
  fieldBool,
  fieldDouble,
  fieldFloat,
  fieldInt32,
  fieldInt64,
  fieldSafeInt,
  fieldSint32,
  fieldSint64,
  fieldUint64,
  forEachScalar,
  zigzag32,
} from '../../src/core/io/protobuf.js';
import type { ProtoField } from '../../src/core/io/protobuf.js';
import { cat, fDouble, fFloat, fLen, fStr, fVarint, packedVarints, tag, varint } from '../fixtures/onnx/pb-encode.js';

function all(r: ProtoReader): ProtoField[] {
  const out: ProtoField[] = [];
  for (let f = r.next(); f; f = r.next()) out.push(f);
  return out;
}

function ferry(fn: () => unknown): FerryError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(FerryError);
    return e as FerryError;
  }
  throw new Error('expected a FerryError');
}

/** Counts the bytes actually read from the underlying source. */
class CountingSource implements ByteSource {
  bytesRead = 0;
  reads = 0;
  constructor(private readonly inner: ByteSource) {}
  get name(): string {
    return this.inner.name;
  }
  get size(): number {
    return this.inner.size;
  }
  async read(offset: number, length: number): Promise<Uint8Array> {
    this.reads++;
    this.bytesRead += length;
    return this.inner.read(offset, length);
  }
}

describe('protobuf wire format (in memory)', () => {
  it('decodes varints up to 64 bits, signed int64/int32, zigzag and bools', () => {
    const msg = cat(
      fVarint(1, 0),
      fVarint(1, 300),
      fVarint(2, 2n ** 64n - 1n),
      fVarint(3, -1), // int64 -1: 10-byte varint
      fVarint(4, 2n ** 53n + 1n),
      fVarint(5, zigzagEnc(-3)),
      fVarint(6, 1),
      fVarint(7, BigInt.asUintN(64, -(2n ** 63n))),
    );
    const fs = all(new ProtoReader(msg, 'm.pb'));
    expect(fs.map((f) => f.field)).toEqual([1, 1, 2, 3, 4, 5, 6, 7]);
    expect(fs[0]?.lo).toBe(0);
    expect(fs[1]?.lo).toBe(300);
    expect(fieldUint64(fs[2] as ProtoField)).toBe(2n ** 64n - 1n);
    expect(fieldInt64(fs[3] as ProtoField)).toBe(-1n);
    expect(fieldInt32(fs[3] as ProtoField)).toBe(-1);
    expect(fieldSafeInt(fs[3] as ProtoField, 'm.pb')).toBe(-1);
    expect(fieldUint64(fs[4] as ProtoField)).toBe(2n ** 53n + 1n);
    expect(ferry(() => fieldSafeInt(fs[4] as ProtoField, 'm.pb')).code).toBe('E_LIMIT');
    expect(fieldSint32(fs[5] as ProtoField)).toBe(-3);
    expect(fieldSint64(fs[5] as ProtoField)).toBe(-3n);
    expect(fieldBool(fs[6] as ProtoField)).toBe(true);
    expect(fieldInt64(fs[7] as ProtoField)).toBe(-(2n ** 63n));
    expect(zigzag32(1)).toBe(-1);
  });

  it('decodes fixed32/fixed64 floats and LEN strings and nested messages with absolute offsets', () => {
    const inner = cat(fStr(1, 'hello'), fVarint(2, 7));
    const msg = cat(fFloat(1, 1.5), fDouble(2, -2.25), fLen(3, inner));
    const r = new ProtoReader(msg, 'm.pb', 1000);
    const [a, b, c] = all(r) as [ProtoField, ProtoField, ProtoField];
    expect(a.wire).toBe(WIRE_I32);
    expect(fieldFloat(a)).toBe(1.5);
    expect(b.wire).toBe(WIRE_I64);
    expect(fieldDouble(b)).toBe(-2.25);
    expect(c.offset).toBe(1000 + 5 + 9 + 2);
    const m = r.message(c);
    const [s, v] = all(m) as [ProtoField, ProtoField];
    expect(m.string(s)).toBe('hello');
    expect(s.offset).toBe(c.offset + 2);
    expect(v.lo).toBe(7);
  });

  it('reads repeated scalars both packed and unpacked', () => {
    const msg = cat(packedVarints(1, [1, 2, 300, -1]), fVarint(1, 5), fVarint(1, 6));
    const r = new ProtoReader(msg, 'm.pb');
    const got: bigint[] = [];
    for (let f = r.next(); f; f = r.next()) {
      forEachScalar(f, f.wire === 2 ? r.payload(f) : undefined, WIRE_VARINT, 'm.pb', (lo, hi) => got.push(BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo))));
    }
    expect(got).toEqual([1n, 2n, 300n, -1n, 5n, 6n]);
    const floats = fLen(4, new Uint8Array(new Float32Array([1, -2, 3.5]).buffer));
    const fr = new ProtoReader(floats, 'm.pb');
    const f = fr.next() as ProtoField;
    const vals: number[] = [];
    forEachScalar(f, fr.payload(f), WIRE_I32, 'm.pb', (lo) => vals.push(new Float32Array(new Uint32Array([lo]).buffer)[0] as number));
    expect(vals).toEqual([1, -2, 3.5]);
    // a packed fixed32 payload whose size is not a multiple of 4
    const bad = fLen(4, [1, 2, 3]);
    const br = new ProtoReader(bad, 'm.pb');
    const bf = br.next() as ProtoField;
    expect(ferry(() => forEachScalar(bf, br.payload(bf), WIRE_I32, 'm.pb', () => undefined)).code).toBe('E_PROTOBUF');
  });

  it('skips unknown fields, including groups', () => {
    const group = cat(tag(9, 3), fVarint(1, 1), fStr(2, 'x'), tag(9, 4));
    const msg = cat(fVarint(1, 1), group, fVarint(2, 2));
    const fs = all(new ProtoReader(msg, 'm.pb'));
    expect(fs.map((f) => [f.field, f.wire])).toEqual([
      [1, 0],
      [9, 3],
      [2, 0],
    ]);
    const unterminated = cat(tag(9, 3), fVarint(1, 1));
    expect(ferry(() => all(new ProtoReader(unterminated, 'm.pb'))).code).toBe('E_PROTOBUF');
    const mismatched = cat(tag(9, 3), tag(8, 4));
    expect(ferry(() => all(new ProtoReader(mismatched, 'm.pb'))).code).toBe('E_PROTOBUF');
  });

  it('reports malformed input with the absolute offset', () => {
    // field number 0
    let e = ferry(() => all(new ProtoReader(new Uint8Array([0x00]), 'a.pb', 50)));
    expect([e.code, e.file, e.offset]).toEqual(['E_PROTOBUF', 'a.pb', 50]);
    // wire type 7
    e = ferry(() => all(new ProtoReader(cat(fVarint(1, 1), [0x0f]), 'a.pb')));
    expect([e.code, e.offset]).toEqual(['E_PROTOBUF', 2]);
    // LEN payload beyond the end of the message
    e = ferry(() => all(new ProtoReader(cat(tag(2, 2), varint(10), [1, 2]), 'a.pb', 100)));
    expect([e.code, e.offset]).toEqual(['E_PROTOBUF', 101]);
    // ... or of the file
    e = ferry(() => all(new ProtoReader(cat(tag(2, 2), varint(10), [1, 2]), 'a.pb', 0, true)));
    expect(e.code).toBe('E_TRUNCATED');
    // unterminated varint / > 10 bytes / overflowing 64 bits
    expect(ferry(() => all(new ProtoReader(new Uint8Array([0x08, 0x80, 0x80]), 'a.pb'))).code).toBe('E_PROTOBUF');
    expect(ferry(() => all(new ProtoReader(new Uint8Array([0x08, ...new Array<number>(11).fill(0x80), 1]), 'a.pb'))).code).toBe('E_PROTOBUF');
    expect(ferry(() => all(new ProtoReader(new Uint8Array([0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]), 'a.pb'))).code).toBe('E_PROTOBUF');
    // truncated fixed64
    expect(ferry(() => all(new ProtoReader(cat(tag(1, 1), [1, 2, 3]), 'a.pb'))).code).toBe('E_PROTOBUF');
  });
});

function zigzagEnc(n: number): bigint {
  const b = BigInt(n);
  return BigInt.asUintN(64, (b << 1n) ^ (b >> 63n));
}

describe('protobuf wire format (lazy over a ByteSource)', () => {
  it('walks fields without reading large LEN payloads', async () => {
    const big = new Uint8Array(8 << 20).fill(7);
    const msg = cat(fVarint(1, 42), fLen(9, big), fStr(8, 'after'), fLen(5, fVarint(1, 3), fLen(9, big.subarray(0, 1 << 20))));
    const src = new CountingSource(new MemorySource('big.pb', msg));
    const r = LazyProtoReader.of(src, 4096);
    const a = (await r.next()) as ProtoField;
    expect(a.lo).toBe(42);
    const b = (await r.next()) as ProtoField;
    expect([b.field, b.length]).toEqual([9, big.length]);
    expect(b.offset).toBe(2 + 1 + varint(big.length).length);
    const c = (await r.next()) as ProtoField;
    expect(await r.string(c)).toBe('after');
    const d = (await r.next()) as ProtoField;
    const sub = r.sub(d);
    expect(((await sub.next()) as ProtoField).lo).toBe(3);
    const inner = (await sub.next()) as ProtoField;
    expect(inner.length).toBe(1 << 20);
    expect(await sub.next()).toBeUndefined();
    expect(await r.next()).toBeUndefined();
    expect(src.bytesRead).toBeLessThan(64 * 1024);
  });

  it('refuses oversize payload reads and reports truncation against the file', async () => {
    const msg = cat(fLen(2, new Uint8Array(100)));
    const r = LazyProtoReader.of(new MemorySource('t.pb', msg));
    const f = (await r.next()) as ProtoField;
    await expect(r.payload(f, 10)).rejects.toMatchObject({ code: 'E_LIMIT', file: 't.pb', offset: 2 });
    const cut = msg.subarray(0, 50);
    const r2 = LazyProtoReader.of(new MemorySource('t.pb', cut));
    await expect(r2.next()).rejects.toMatchObject({ code: 'E_TRUNCATED', file: 't.pb' });
    // a varint cut by the end of the file
    const r3 = LazyProtoReader.of(new MemorySource('t.pb', new Uint8Array([0x08, 0x80])));
    await expect(r3.next()).rejects.toMatchObject({ code: 'E_TRUNCATED', file: 't.pb', offset: 1 });
  });

  it('skips groups lazily', async () => {
    const msg = cat(fVarint(1, 1), tag(9, 3), fStr(2, 'x'), tag(9, 4), fVarint(2, 2));
    const r = LazyProtoReader.of(new MemorySource('g.pb', msg));
    const seen: number[] = [];
    for (let f = await r.next(); f; f = await r.next()) seen.push(f.field);
    expect(seen).toEqual([1, 9, 2]);
  });
});
