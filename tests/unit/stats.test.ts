import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeToFloat32, tensorStats } from '../../src/core/ir/stats.js';
import type { TensorStats } from '../../src/core/ir/stats.js';
import { safetensorsReader } from '../../src/core/formats/safetensors/index.js';
import { FileSet, MemorySource } from '../../src/core/io/source.js';
import type { TensorRef } from '../../src/core/ir/checkpoint.js';
import type { DType } from '../../src/core/ir/dtype.js';
import { readTensor } from '../../src/core/ir/materialize.js';
import { expectFerry, fixtureFiles, haveFixtures, HF_TINY } from './safetensors-helpers.js';

/** A raw tensor over `bytes`, optionally split into several spans (to exercise chunk boundaries). */
function mk(dtype: DType, shape: number[], bytes: Uint8Array, cuts: number[] = []): { ref: TensorRef; files: FileSet } {
  const bounds = [0, ...cuts, bytes.length];
  const spans = bounds.slice(0, -1).map((b, i) => ({ file: 'x.bin', offset: b, length: bounds[i + 1]! - b }));
  return { ref: { name: 't', dtype, shape, data: { kind: 'spans', spans, encoding: { kind: 'raw' } } }, files: new FileSet([new MemorySource('x.bin', bytes)]) };
}
const u8 = (a: ArrayLike<number> | ArrayBufferView): Uint8Array =>
  ArrayBuffer.isView(a) ? new Uint8Array(a.buffer, a.byteOffset, a.byteLength) : Uint8Array.from(a as ArrayLike<number>);

async function stats(dtype: DType, shape: number[], bytes: Uint8Array, opts: { cuts?: number[]; chunkBytes?: number } = {}): Promise<TensorStats> {
  const { ref, files } = mk(dtype, shape, bytes, opts.cuts);
  return tensorStats(ref, files, { chunkBytes: opts.chunkBytes });
}

describe('tensorStats', () => {
  it('F32 with NaN, ±Inf, ±0 (mean/std over finite values, population std)', async () => {
    const v = new Float32Array([1, -2, 0, -0, NaN, Infinity, -Infinity, 3.5]);
    const s = await stats('F32', [8], u8(v));
    expect(s).toMatchObject({ min: -2, max: 3.5, nanCount: 1, infCount: 2, zeroCount: 2, numel: 8 });
    expect(s.mean).toBeCloseTo(0.5, 12);
    expect(s.std).toBeCloseTo(Math.sqrt(3.2), 12);
    // same result when streamed 4 bytes at a time
    const c = await stats('F32', [8], u8(v), { chunkBytes: 4 });
    expect(c.min).toBe(-2);
    expect(c.mean).toBeCloseTo(0.5, 12);
    expect(c.std).toBeCloseTo(Math.sqrt(3.2), 12);
  });

  it('F16 bit patterns', async () => {
    const s = await stats('F16', [6], u8(new Uint16Array([0x3c00, 0xc000, 0x7c00, 0x7e00, 0x0001, 0x7bff])));
    expect(s).toMatchObject({ min: -2, max: 65504, nanCount: 1, infCount: 1, zeroCount: 0, numel: 6 });
    expect(s.mean).toBeCloseTo((1 - 2 + 2 ** -24 + 65504) / 4, 9);
  });

  it('BF16 bit patterns', async () => {
    const s = await stats('BF16', [5], u8(new Uint16Array([0x3f80, 0xbf80, 0x7f80, 0x7fc0, 0x4049])));
    expect(s).toMatchObject({ min: -1, max: 3.140625, nanCount: 1, infCount: 1, numel: 5 });
  });

  it('F8_E4M3 (fn: no Inf, NaN = S.1111.111)', async () => {
    const s = await stats('F8_E4M3', [9], u8([0x7e, 0xfe, 0x7f, 0xff, 0x08, 0x01, 0x38, 0x00, 0x80]));
    expect(s).toMatchObject({ min: -448, max: 448, nanCount: 2, infCount: 0, zeroCount: 2, numel: 9 });
    expect(s.mean).toBeCloseTo((2 ** -6 + 2 ** -9 + 1) / 7, 12);
    expect([...decodeToFloat32(u8([0x08, 0x01, 0x38, 0x7e]), 'F8_E4M3')]).toEqual([2 ** -6, 2 ** -9, 1, 448]);
  });

  it('F8_E5M2 (IEEE-like)', async () => {
    const s = await stats('F8_E5M2', [6], u8([0x7c, 0xfc, 0x7d, 0x3c, 0x7b, 0x01]));
    expect(s).toMatchObject({ min: 2 ** -16, max: 57344, nanCount: 1, infCount: 2, numel: 6 });
  });

  it('F8 FNUZ variants and E8M0', async () => {
    expect([...decodeToFloat32(u8([0x80, 0x40, 0x00, 0x7f]), 'F8_E4M3FNUZ')].map(String)).toEqual(['NaN', '1', '0', '240']);
    expect([...decodeToFloat32(u8([0x80, 0x40, 0x7f]), 'F8_E5M2FNUZ')].map(String)).toEqual(['NaN', '1', '57344']);
    expect([...decodeToFloat32(u8([127, 0, 0xff, 130]), 'F8_E8M0')].map(String)).toEqual(['1', String(2 ** -127), 'NaN', '8']);
  });

  it('I64 / U64 beyond 2^53, BOOL, I8', async () => {
    const i = await stats('I64', [4], u8(new BigInt64Array([2n ** 62n, -(2n ** 62n), 0n, 5n])));
    expect(i).toMatchObject({ min: -(2 ** 62), max: 2 ** 62, zeroCount: 1, numel: 4 });
    expect(i.mean).toBe(1.25);
    const u = await stats('U64', [2], u8(new BigUint64Array([2n ** 64n - 1n, 3n])));
    expect(u.max).toBe(2 ** 64);
    expect(u.min).toBe(3);
    const b = await stats('BOOL', [5], u8([1, 0, 0, 1, 1]));
    expect(b).toMatchObject({ min: 0, max: 1, zeroCount: 2, numel: 5 });
    expect(b.mean).toBeCloseTo(0.6, 12);
    const s8 = await stats('I8', [3], u8([0x80, 0x7f, 0xff]));
    expect(s8).toMatchObject({ min: -128, max: 127 });
  });

  it('sub-byte F4 / F6 packed little-endian, across span boundaries', async () => {
    // F4 (E2M1): byte 0x21 → [0.5, 1.0], byte 0x0f → [-6, 0]; shape [3] uses 3 of the 4 nibbles
    const f4 = await stats('F4', [3], u8([0x21, 0x0f]), { cuts: [1] });
    expect(f4).toMatchObject({ min: -6, max: 1, zeroCount: 0, numel: 3 });
    // F6_E2M3: codes 0b001000 (1.0), 0b111111 (-7.5), 0b000001 (0.125), 0 packed in 3 bytes
    const f6 = await stats('F6_E2M3', [4], u8([0xc8, 0x1f, 0x00]), { cuts: [2] });
    expect(f6).toMatchObject({ min: -7.5, max: 1, zeroCount: 1, numel: 4 });
    expect(f6.mean).toBeCloseTo((1 - 7.5 + 0.125) / 4, 12);
    expect([...decodeToFloat32(u8([0xc8, 0x1f, 0x00]), 'F6_E2M3')]).toEqual([1, -7.5, 0.125, 0]);
  });

  it('empty and all-NaN tensors: nulls', async () => {
    expect(await stats('F32', [0, 4], new Uint8Array(0))).toEqual({ min: null, max: null, mean: null, std: null, nanCount: 0, infCount: 0, zeroCount: 0, numel: 0 });
    const n = await stats('F32', [2], u8(new Float32Array([NaN, Infinity])));
    expect(n).toEqual({ min: null, max: null, mean: null, std: null, nanCount: 1, infCount: 1, zeroCount: 0, numel: 2 });
  });

  it('complex → E_UNSUPPORTED; cancellation → E_CANCELLED', async () => {
    const { ref, files } = mk('C64', [1], new Uint8Array(8));
    await expectFerry(tensorStats(ref, files), 'E_UNSUPPORTED');
    const f = mk('F32', [1024], new Uint8Array(4096));
    const ac = new AbortController();
    ac.abort();
    await expectFerry(tensorStats(f.ref, f.files, { signal: ac.signal }), 'E_CANCELLED');
  });

  it('decodeToFloat32 rounds wide types to float32', () => {
    expect([...decodeToFloat32(u8(new BigInt64Array([2n ** 53n + 1n, -3n])), 'I64')]).toEqual([2 ** 53, -3]);
    expect([...decodeToFloat32(u8(new Float64Array([1 / 3])), 'F64')]).toEqual([Math.fround(1 / 3)]);
    expect([...decodeToFloat32(u8(new Uint16Array([0x3555])), 'F16')]).toEqual([0.333251953125]);
  });
});

describe.skipIf(!haveFixtures)('tensorStats on real data', () => {
  it('gpt2 logits.npy matches reference.json (numpy float32 stats)', async () => {
    const npy = readFileSync(join(HF_TINY, 'gpt2/outputs/logits.npy'));
    expect(npy[6]).toBe(1); // npy format 1.x: u16 header length at 8
    const start = 10 + npy.readUInt16LE(8);
    const ref = JSON.parse(readFileSync(join(HF_TINY, 'gpt2/reference.json'), 'utf8')) as { outputs: { logits: { min: number; max: number; mean: number; std: number } } };
    const want = ref.outputs.logits;
    const src = new MemorySource('logits.npy', new Uint8Array(npy.buffer, npy.byteOffset, npy.byteLength));
    const t: TensorRef = { name: 'logits', dtype: 'F32', shape: [2, 8, 1000], data: { kind: 'spans', spans: [{ file: 'logits.npy', offset: start, length: 64000 }], encoding: { kind: 'raw' } } };
    const s = await tensorStats(t, new FileSet([src]), { chunkBytes: 1000 });
    expect(s.min).toBe(want.min);
    expect(s.max).toBe(want.max);
    expect(Math.abs(s.mean! - want.mean)).toBeLessThan(1e-6);
    expect(Math.abs(s.std! - want.std) / want.std).toBeLessThan(1e-6);
    expect(s.numel).toBe(16000);
  });

  it('every gpt2 tensor: streamed stats equal a direct float64 computation', async () => {
    const files = await fixtureFiles('gpt2');
    const ckpt = await safetensorsReader.read(files.get('model.safetensors')!, { files });
    for (const t of ckpt.tensors) {
      const b = (await readTensor(t, files)).slice();
      const v = Array.from(new Float32Array(b.buffer));
      const mean = v.reduce((a, x) => a + x, 0) / v.length;
      const std = Math.sqrt(v.reduce((a, x) => a + (x - mean) ** 2, 0) / v.length);
      const s = await tensorStats(t, files, { chunkBytes: 512 });
      expect(s.min, t.name).toBe(Math.min(...v));
      expect(s.max, t.name).toBe(Math.max(...v));
      expect(Math.abs(s.mean! - mean), t.name).toBeLessThan(1e-12);
      expect(Math.abs(s.std! - std), t.name).toBeLessThan(1e-12);
      expect(s.zeroCount).toBe(v.filter((x) => x === 0).length);
    }
  });
});
