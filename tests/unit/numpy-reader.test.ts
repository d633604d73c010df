import { describe, expect, it } from 'vitest';
import { zipSync } from 'fflate';
import { npyReader, npzReader } from '../../src/core/formats/numpy/index.js';
import { pytorchReader } from '../../src/core/formats/pytorch/index.js';
import { FerryError } from '../../src/core/errors.js';
import { FileSet, MemorySource } from '../../src/core/io/source.js';
import { readTensor } from '../../src/core/ir/materialize.js';

/** An .npy file as numpy.lib.format writes it (header padded so the data starts 64-byte aligned). */
function npy(header: string, data: Uint8Array, major = 1): Uint8Array {
  const pre = major === 1 ? 10 : 12;
  let h = header;
  while ((pre + h.length + 1) % 64) h += ' ';
  h += '\n';
  const hb = new TextEncoder().encode(h);
  const out = new Uint8Array(pre + hb.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, 0]);
  const dv = new DataView(out.buffer);
  if (major === 1) dv.setUint16(8, hb.length, true);
  else dv.setUint32(8, hb.length, true);
  out.set(hb, pre);
  out.set(data, pre + hb.length);
  return out;
}

async function read(name: string, bytes: Uint8Array, reader = npyReader) {
  const src = new MemorySource(name, bytes);
  const files = new FileSet([src]);
  const ckpt = await reader.read(src, { files });
  const data = [];
  for (const t of ckpt.tensors) data.push(await readTensor(t, files));
  return { ckpt, data };
}

async function ferr(p: Promise<unknown>): Promise<FerryError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(FerryError);
    return e as FerryError;
  }
  throw new Error('no error');
}

const f32 = (xs: number[]) => new Uint8Array(new Float32Array(xs).buffer);

describe('npy reader', () => {
  it('v1 <f4 C order', async () => {
    const { ckpt, data } = await read('w.npy', npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", f32([1, 2, 3, 4, 5, 6])));
    expect(ckpt.tensors[0]).toMatchObject({ name: 'w', dtype: 'F32', shape: [2, 3] });
    expect(ckpt.tensors[0]!.data).toMatchObject({ kind: 'spans', encoding: { kind: 'raw' } });
    expect(data[0]).toEqual(f32([1, 2, 3, 4, 5, 6]));
    expect(npyReader.sniff(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", f32([1])), 'x')).toBe(2);
  });

  it('fortran_order True → strided, read back in C order', async () => {
    // logical [[1,2,3],[4,5,6]] stored column-major: 1 4 2 5 3 6
    const { ckpt, data } = await read('f.npy', npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", f32([1, 4, 2, 5, 3, 6])));
    expect(ckpt.tensors[0]!.data).toMatchObject({ encoding: { kind: 'strided', strides: [1, 2] } });
    expect(data[0]).toEqual(f32([1, 2, 3, 4, 5, 6]));
  });

  it('big-endian >i4 → byteswap; big-endian fortran', async () => {
    const be = new Uint8Array([0, 0, 0, 1, 0, 0, 1, 0, 0xff, 0xff, 0xff, 0xfe, 0x7f, 0, 0, 0]);
    const want = new Uint8Array(new Int32Array([1, 256, -2, 0x7f000000]).buffer);
    const a = await read('b.npy', npy("{'descr': '>i4', 'fortran_order': False, 'shape': (4,), }", be));
    expect(a.ckpt.tensors[0]).toMatchObject({ dtype: 'I32', data: { encoding: { kind: 'byteswap' } } });
    expect(a.data[0]).toEqual(want);
    const b = await read('bf.npy', npy("{'descr': '>i4', 'fortran_order': True, 'shape': (2, 2), }", be));
    // column-major [1,256,-2,0x7f000000] → rows [1,-2],[256,0x7f000000]
    expect(b.data[0]).toEqual(new Uint8Array(new Int32Array([1, -2, 256, 0x7f000000]).buffer));
  });

  it('dtypes: |b1 |u1 |i1 <f2 <i8 <c8 <f8 and 0-d / empty shapes', async () => {
    const cases: [string, string, number][] = [['|b1', 'BOOL', 1], ['|u1', 'U8', 1], ['|i1', 'I8', 1], ['<f2', 'F16', 2], ['<i8', 'I64', 8], ['<c8', 'C64', 8], ['<f8', 'F64', 8], ['<u2', 'U16', 2]];
    for (const [descr, dtype, es] of cases) {
      const { ckpt, data } = await read('d.npy', npy(`{'descr': '${descr}', 'fortran_order': False, 'shape': (3,), }`, new Uint8Array(3 * es).fill(1)));
      expect(ckpt.tensors[0]!.dtype).toBe(dtype);
      expect(data[0]!.length).toBe(3 * es);
    }
    expect((await read('s.npy', npy("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", f32([7])))).data[0]).toEqual(f32([7]));
    expect((await read('e.npy', npy("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 5), }", new Uint8Array(0)))).ckpt.tensors[0]!.shape).toEqual([0, 5]);
  });

  it('format versions 2.0 and 3.0 (utf-8 header)', async () => {
    for (const v of [2, 3]) {
      const { ckpt, data } = await read('v.npy', npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", f32([1, 2]), v));
      expect(ckpt.metadata?.version).toBe(`${v}.0`);
      expect(data[0]).toEqual(f32([1, 2]));
    }
  });

  it('errors: dtype, structured, header dict, truncation, magic, version', async () => {
    const e1 = await ferr(read('x.npy', npy("{'descr': '<U5', 'fortran_order': False, 'shape': (1,), }", new Uint8Array(20))));
    expect(e1.code).toBe('E_DTYPE');
    const e2 = await ferr(read('x.npy', npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", new Uint8Array(4))));
    expect(e2.code).toBe('E_UNSUPPORTED');
    const e3 = await ferr(read('x.npy', npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'descr': '<f8'}", new Uint8Array(8))));
    expect(e3.code).toBe('E_HEADER');
    const short = npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1000,), }", new Uint8Array(8));
    const e4 = await ferr(read('x.npy', short));
    expect(e4.code).toBe('E_TRUNCATED');
    expect(e4.offset).toBe(short.length - 8); // where the array data starts
    const e5 = await ferr(read('x.npy', new Uint8Array(64)));
    expect(e5.code).toBe('E_BAD_MAGIC');
    const bad = npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", f32([1]));
    bad[6] = 9;
    expect((await ferr(read('x.npy', bad))).code).toBe('E_UNSUPPORTED');
    const huge = npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", f32([1]), 2);
    new DataView(huge.buffer).setUint32(8, 0x7fffffff, true);
    expect((await ferr(read('x.npy', huge))).code).toBe('E_HEADER_TOO_LARGE');
    const e6 = await ferr(read('x.npy', npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), } __import__('os')", f32([1]))));
    expect(e6.code).toBe('E_HEADER');
  });
});

describe('npz reader', () => {
  const a = npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", f32([1, 2, 3, 4]));
  const b = npy("{'descr': '>i4', 'fortran_order': True, 'shape': (2, 2), }", new Uint8Array([0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4]));
  const want = [f32([1, 2, 3, 4]), new Uint8Array(new Int32Array([1, 3, 2, 4]).buffer)];
  for (const level of [0, 6] as const) {
    it(`${level ? 'deflated' : 'stored'} entries; names without .npy`, async () => {
      const bytes = zipSync({ 'a.npy': [a, { level }], 'sub/b.npy': [b, { level }] });
      expect(npzReader.sniff(bytes.subarray(0, 4096), 'x.npz')).toBe(2);
      expect(pytorchReader.sniff(bytes.subarray(0, 4096), 'x.npz')).toBe(0);
      expect(pytorchReader.sniff(bytes.subarray(0, 4096), 'x.pt')).toBe(0);
      const { ckpt, data } = await read('x.npz', bytes, npzReader);
      expect(ckpt.format).toBe('npz');
      expect(ckpt.tensors.map((t) => [t.name, t.dtype, t.shape])).toEqual([['a', 'F32', [2, 2]], ['sub/b', 'I32', [2, 2]]]);
      expect(data).toEqual(want);
      expect(ckpt.tensors[0]!.data.kind).toBe(level ? 'inline' : 'spans');
    });
  }
  it('an entry that is not a valid .npy → FerryError naming the tensor', async () => {
    const bytes = zipSync({ 'a.npy': [new Uint8Array(20), { level: 0 }] });
    const e = await ferr(read('x.npz', bytes, npzReader));
    expect(e.code).toBe('E_BAD_MAGIC');
    expect(e.tensor).toBe('a');
    expect(e.file).toBe('x.npz');
  });
});
