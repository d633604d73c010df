import { describe, expect, it } from 'vitest';
import { FerryError } from '../../src/core/errors.js';
import { FileSet, MemorySource, BlobSource, normalizePath } from '../../src/core/io/source.js';
import { BinaryReader } from '../../src/core/io/reader.js';
import { readTensor, readTensorChunks } from '../../src/core/ir/materialize.js';
import type { TensorRef } from '../../src/core/ir/checkpoint.js';
import { parseSize } from '../../src/core/util/size.js';

function f32bytes(values: number[]): Uint8Array {
  return new Uint8Array(new Float32Array(values).buffer);
}

function expectFerry(fn: () => unknown, code: string): FerryError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(FerryError);
    expect((e as FerryError).code).toBe(code);
    return e as FerryError;
  }
  throw new Error(`expected ${code}`);
}

describe('byte sources', () => {
  it('refuse reads outside the file with E_TRUNCATED naming file and offset', async () => {
    const s = new MemorySource('a.bin', new Uint8Array(10));
    await expect(s.read(8, 4)).rejects.toMatchObject({ code: 'E_TRUNCATED', file: 'a.bin', offset: 8 });
    await expect(s.read(-1, 1)).rejects.toMatchObject({ code: 'E_OFFSETS' });
    const b = new BlobSource('b.bin', new Blob([new Uint8Array([1, 2, 3])]));
    expect([...(await b.read(1, 2))]).toEqual([2, 3]);
    await expect(b.read(2, 2)).rejects.toMatchObject({ code: 'E_TRUNCATED', file: 'b.bin' });
  });

  it('FileSet resolves siblings relative to the referring file', () => {
    const fs = new FileSet([new MemorySource('m/model.json', new Uint8Array(1)), new MemorySource('m/group1-shard1of1.bin', new Uint8Array(1))]);
    expect(fs.resolve('m/model.json', './group1-shard1of1.bin')?.name).toBe('m/group1-shard1of1.bin');
    expect(() => fs.require('m/model.json', 'missing.bin')).toThrow(/E_MISSING_FILE/);
    expect(normalizePath('a\\b/../c/./d')).toBe('a/c/d');
  });

  it('BinaryReader reports absolute offsets', () => {
    const r = new BinaryReader(new Uint8Array([1, 0, 0, 0, 2]), 'x.bin', 100);
    expect(r.u32()).toBe(1);
    const e = expectFerry(() => r.u32(), 'E_TRUNCATED');
    expect(e.offset).toBe(104);
    expect(e.file).toBe('x.bin');
  });
});

describe('materialize', () => {
  const storage = f32bytes([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  const files = new FileSet([new MemorySource('s.bin', storage)]);
  const strided = (shape: number[], storageOffset: number, strides: number[]): TensorRef => ({
    name: 't',
    dtype: 'F32',
    shape,
    data: { kind: 'spans', spans: [{ file: 's.bin', offset: 0, length: storage.byteLength }], encoding: { kind: 'strided', storageOffset, strides } },
  });

  it('reads a transposed view (non-contiguous strides)', async () => {
    // storage as 3x4, view its transpose 4x3
    const b = await readTensor(strided([4, 3], 0, [1, 4]), files);
    expect([...new Float32Array(b.slice().buffer)]).toEqual([0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11]);
  });

  it('reads a view with a storage offset', async () => {
    const b = await readTensor(strided([2, 2], 5, [4, 1]), files);
    expect([...new Float32Array(b.slice().buffer)]).toEqual([5, 6, 9, 10]);
  });

  it('refuses a view that reaches outside its storage', async () => {
    await expect(readTensor(strided([3, 4], 1, [4, 1]), files)).rejects.toMatchObject({ code: 'E_OFFSETS', tensor: 't' });
  });

  it('byteswaps big-endian storage and streams raw tensors in element-aligned chunks', async () => {
    const be = new Uint8Array([0x3f, 0x80, 0, 0, 0x40, 0, 0, 0]); // 1.0, 2.0 big-endian
    const fs2 = new FileSet([new MemorySource('be.bin', be)]);
    const ref: TensorRef = { name: 'be', dtype: 'F32', shape: [2], data: { kind: 'spans', spans: [{ file: 'be.bin', offset: 0, length: 8 }], encoding: { kind: 'byteswap' } } };
    expect([...new Float32Array((await readTensor(ref, fs2)).slice().buffer)]).toEqual([1, 2]);
    const chunks: Uint8Array[] = [];
    for await (const c of readTensorChunks(ref, fs2, 5)) chunks.push(c.slice());
    expect(chunks.map((c) => c.byteLength)).toEqual([4, 4]);
    expect(new Float32Array(chunks[1]!.buffer)[0]).toBe(2);
  });

  it('checks that stored bytes match dtype × shape', async () => {
    const ref: TensorRef = { name: 'bad', dtype: 'F32', shape: [3], data: { kind: 'spans', spans: [{ file: 's.bin', offset: 0, length: 8 }], encoding: { kind: 'raw' } } };
    await expect(readTensor(ref, files)).rejects.toMatchObject({ code: 'E_SHAPE', tensor: 'bad' });
  });
});

describe('parseSize (Hugging Face max_shard_size semantics)', () => {
  it('parses decimal, binary and bit units', () => {
    expect(parseSize('50MB')).toBe(50_000_000);
    expect(parseSize('100KB')).toBe(100_000);
    expect(parseSize('2GiB')).toBe(2 * 1024 ** 3);
    expect(parseSize('5Gb')).toBe(625_000_000);
    expect(parseSize('1048576')).toBe(1048576);
    expect(() => parseSize('ten')).toThrow(/E_ARGUMENT/);
    expect(() => parseSize('0MB')).toThrow(/E_ARGUMENT/);
  });
});
