import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { convertToSafetensors, targetDType } from '../../src/core/convert/to-safetensors.js';
import type { ConvertProgress } from '../../src/core/convert/to-safetensors.js';
import { dedupeTied } from '../../src/core/convert/tied.js';
import { f32BitsToF16, f32ToBits } from '../../src/core/convert/precision/float.js';
import { safetensorsReader } from '../../src/core/formats/safetensors/index.js';
import { FileSet, MemorySource } from '../../src/core/io/source.js';
import type { Checkpoint, TensorRef } from '../../src/core/ir/checkpoint.js';
import { readTensor } from '../../src/core/ir/materialize.js';
import { expectFerry, fixtureFiles, haveFixtures, HF_TINY, MemorySinks, tensorList, tensorsJson } from './safetensors-helpers.js';

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

async function gpt2(): Promise<{ ckpt: Checkpoint; files: FileSet }> {
  const files = await fixtureFiles('gpt2');
  return { ckpt: await safetensorsReader.read(files.get('model.safetensors')!, { files }), files };
}

async function reread(sinks: MemorySinks, entry: string): Promise<{ ckpt: Checkpoint; files: FileSet }> {
  const files = sinks.fileSet();
  return { ckpt: await safetensorsReader.read(files.get(entry)!, { files }), files };
}

describe.skipIf(!haveFixtures)('convert safetensors → safetensors on hf-tiny gpt2', () => {
  for (const [dtype, folder] of [['F16', 'gpt2/fp16'], ['BF16', 'gpt2/bf16']] as const) {
    it(`→ ${dtype}: tensors equal PyTorch's ${folder} and the file is byte-identical`, async () => {
      const { ckpt, files } = await gpt2();
      const sinks = new MemorySinks();
      const events: ConvertProgress[] = [];
      const res = await convertToSafetensors(ckpt, files, sinks.factory, { dtype, onProgress: (p) => events.push(p), chunkBytes: 4096 });
      expect(res.files.map((f) => f.name)).toEqual(['model.safetensors']);
      expect(res.tensors).toBe(28);
      expect(res.aliases).toEqual({});
      const out = await reread(sinks, 'model.safetensors');
      expect(out.ckpt.metadata).toEqual({ format: 'pt' });
      const want = tensorsJson(folder)['model.safetensors']!;
      expect(await tensorList(out.ckpt, out.files)).toEqual(want);
      expect(sha(sinks.files.get('model.safetensors')!)).toBe(sha(readFileSync(join(HF_TINY, folder, 'model.safetensors'))));
      // progress: after every chunk, monotonic, complete
      const last = events[events.length - 1]!;
      expect(last.bytesDone).toBe(last.bytesTotal);
      expect(last.bytesTotal).toBe(res.totalBytes);
      expect(last.tensorsDone).toBe(28);
      expect(last.tensorsTotal).toBe(28);
      expect(last.file).toBe('model.safetensors');
      for (let i = 1; i < events.length; i++) expect(events[i]!.bytesDone).toBeGreaterThanOrEqual(events[i - 1]!.bytesDone);
      // 4096-byte F32 chunks → 2048-byte F16 chunks: at least one event per chunk
      const chunks = ckpt.tensors.reduce((a, t) => a + Math.ceil((t.shape.reduce((x, y) => x * y, 1) * 4) / 4096), 0);
      expect(events.length).toBeGreaterThanOrEqual(chunks);
    });
  }

  it('no dtype: a byte-identical copy', async () => {
    const { ckpt, files } = await gpt2();
    const sinks = new MemorySinks();
    await convertToSafetensors(ckpt, files, sinks.factory);
    expect(sha(sinks.files.get('model.safetensors')!)).toBe(sha(readFileSync(join(HF_TINY, 'gpt2/model.safetensors'))));
  });

  it('sharded output (maxShardSize 100 kB, like save_pretrained(max_shard_size="100KB")) reads back equal', async () => {
    const { ckpt, files } = await gpt2();
    const sinks = new MemorySinks();
    const res = await convertToSafetensors(ckpt, files, sinks.factory, { maxShardSize: 100_000 });
    const names = res.files.map((f) => f.name);
    expect(names[names.length - 1]).toBe('model.safetensors.index.json');
    expect(names.length).toBeGreaterThan(2);
    const index = JSON.parse(new TextDecoder().decode(sinks.files.get('model.safetensors.index.json'))) as { metadata: { total_size: number }; weight_map: Record<string, string> };
    expect(index.metadata.total_size).toBe(238080); // as transformers wrote for the same weights
    // transformer.wte.weight (128000 bytes) is over the limit: a shard of its own
    const wteShard = index.weight_map['transformer.wte.weight']!;
    expect(Object.values(index.weight_map).filter((s) => s === wteShard)).toHaveLength(1);
    const out = await reread(sinks, 'model.safetensors.index.json');
    expect(await tensorList(out.ckpt, out.files)).toEqual(tensorsJson('gpt2')['model.safetensors']);
    for (const shard of names.slice(0, -1)) {
      const sub = await reread(sinks, shard);
      const bytes = sub.ckpt.tensors.reduce((a, t) => a + (t.data.kind === 'spans' ? t.data.spans[0]!.length : 0), 0);
      if (sub.ckpt.tensors.length > 1) expect(bytes).toBeLessThanOrEqual(100_000);
    }
  });

  it('cancellation mid-way → E_CANCELLED, every opened sink closed', async () => {
    const { ckpt, files } = await gpt2();
    const sinks = new MemorySinks();
    const ac = new AbortController();
    let n = 0;
    const e = await expectFerry(
      convertToSafetensors(ckpt, files, sinks.factory, {
        dtype: 'F16',
        maxShardSize: 50_000,
        chunkBytes: 1024,
        signal: ac.signal,
        onProgress: () => {
          if (++n === 40) ac.abort();
        },
      }),
      'E_CANCELLED',
    );
    expect(e.tensor).toBeTypeOf('string');
    expect(sinks.opened.length).toBeGreaterThan(0);
    for (const s of sinks.opened) expect(sinks.closed.has(s), s).toBe(true);
    expect(sinks.opened).not.toContain('model.safetensors.index.json');
    expect(n).toBe(40);
  });

  it('an already-aborted signal opens nothing', async () => {
    const { ckpt, files } = await gpt2();
    const sinks = new MemorySinks();
    const ac = new AbortController();
    ac.abort();
    await expectFerry(convertToSafetensors(ckpt, files, sinks.factory, { signal: ac.signal }), 'E_CANCELLED');
    expect(sinks.opened).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------------------
// Synthetic checkpoint: PyTorch-like views of one storage, reader-declared aliases, ints, F64.

function f32bytes(values: number[]): Uint8Array {
  return new Uint8Array(new Float32Array(values).buffer);
}

function synthetic(): { ckpt: Checkpoint; files: FileSet } {
  const storage = f32bytes([1, 2, 3, 4, 5, 6, 0.1, -0.2]); // 8 floats
  const bias = f32bytes([7, 8]);
  const headBias = f32bytes([7, 8]); // a separate copy that the reader says is the same storage
  const ints = new Uint8Array(new BigInt64Array([1n, -2n, 2n ** 40n]).buffer);
  const dbl = new Uint8Array(new Float64Array([1 / 3, -65520, 1e-6]).buffer);
  const blob = new Uint8Array(storage.length + bias.length + headBias.length + ints.length + dbl.length);
  let o = 0;
  const at: number[] = [];
  for (const part of [storage, bias, headBias, ints, dbl]) {
    at.push(o);
    blob.set(part, o);
    o += part.length;
  }
  const F = 'data.bin';
  const view = (name: string, shape: number[], storageOffset: number, strides: number[]): TensorRef => ({
    name,
    dtype: 'F32',
    shape,
    data: { kind: 'spans', spans: [{ file: F, offset: at[0]!, length: 32 }], encoding: { kind: 'strided', storageOffset, strides } },
  });
  const raw = (name: string, dtype: TensorRef['dtype'], shape: number[], i: number, length: number, aliases?: string[]): TensorRef => ({
    name,
    dtype,
    shape,
    data: { kind: 'spans', spans: [{ file: F, offset: at[i]!, length }], encoding: { kind: 'raw' } },
    aliases,
  });
  const tensors: TensorRef[] = [
    view('emb.weight', [3, 2], 0, [2, 1]),
    raw('bias', 'F32', [2], 1, 8, ['head.bias']),
    view('emb.T', [2, 3], 0, [1, 2]), // same storage, different view: written separately
    view('head.weight', [3, 2], 0, [2, 1]), // identical view → tied to emb.weight
    raw('head.bias', 'F32', [2], 2, 8, ['bias']),
    raw('ids', 'I64', [3], 3, 24),
    raw('dbl', 'F64', [3], 4, 24),
  ];
  return {
    ckpt: { format: 'pytorch', entry: F, files: [F], tensors, warnings: [] },
    files: new FileSet([new MemorySource(F, blob)]),
  };
}

const f16 = (values: number[]): number[] => values.map((v) => f32BitsToF16(f32ToBits(v)));

describe('tied tensors and casting on a synthetic checkpoint', () => {
  it('dedupeTied keeps the first of each group in checkpoint order', () => {
    const { ckpt } = synthetic();
    const r = dedupeTied(ckpt.tensors);
    expect(r.kept.map((t) => t.name)).toEqual(['emb.weight', 'bias', 'emb.T', 'ids', 'dbl']);
    expect(r.aliases).toEqual({ 'head.weight': 'emb.weight', 'head.bias': 'bias' });
    // reversed order: the other name is kept
    const rev = dedupeTied([...ckpt.tensors].reverse());
    expect(rev.aliases).toEqual({ 'emb.weight': 'head.weight', bias: 'head.bias' });
  });

  it('aliases that disagree in shape are not merged', () => {
    const { ckpt } = synthetic();
    const t = ckpt.tensors.map((x) => (x.name === 'head.bias' ? { ...x, shape: [1, 2] } : x));
    const r = dedupeTied(t);
    expect(r.aliases).toEqual({ 'head.weight': 'emb.weight' });
    expect(r.warnings.length).toBeGreaterThan(0);
  });

  it('converts to F16: tied names recorded in __metadata__ (convert.py), ints untouched, F64 cast', async () => {
    const { ckpt, files } = synthetic();
    const sinks = new MemorySinks();
    const res = await convertToSafetensors(ckpt, files, sinks.factory, { dtype: 'F16' });
    expect(res.tensors).toBe(5);
    expect(res.aliases).toEqual({ 'head.weight': 'emb.weight', 'head.bias': 'bias' });
    expect(res.warnings.join(' ')).toContain('head.weight → emb.weight');
    const out = await reread(sinks, 'model.safetensors');
    expect(out.ckpt.metadata).toEqual({ format: 'pt', 'head.weight': 'emb.weight', 'head.bias': 'bias' });
    expect(out.ckpt.tensors.map((t) => [t.name, t.dtype, t.shape])).toEqual([
      ['emb.weight', 'F16', [3, 2]],
      ['bias', 'F16', [2]],
      ['emb.T', 'F16', [2, 3]],
      ['ids', 'I64', [3]],
      ['dbl', 'F16', [3]],
    ]);
    const get = async (name: string): Promise<Uint8Array> => (await readTensor(out.ckpt.tensors.find((t) => t.name === name)!, out.files)).slice();
    expect([...new Uint16Array((await get('emb.weight')).buffer)]).toEqual(f16([1, 2, 3, 4, 5, 6]));
    expect([...new Uint16Array((await get('emb.T')).buffer)]).toEqual(f16([1, 3, 5, 2, 4, 6]));
    expect([...new Uint16Array((await get('bias')).buffer)]).toEqual(f16([7, 8]));
    expect([...new BigInt64Array((await get('ids')).buffer)]).toEqual([1n, -2n, 2n ** 40n]);
    // F64 → F32 (torch .float()) → F16
    expect([...new Uint16Array((await get('dbl')).buffer)]).toEqual([0x3555, 0xfc00, 0x0011]) // 1e-6 / 2^-24 = 16.78 → 17;
  });

  it('user metadata replaces the default and is never overwritten by alias entries', async () => {
    const { ckpt, files } = synthetic();
    const sinks = new MemorySinks();
    await convertToSafetensors(ckpt, files, sinks.factory, { metadata: { format: 'np', 'head.bias': 'mine' } });
    const out = await reread(sinks, 'model.safetensors');
    expect(out.ckpt.metadata).toEqual({ format: 'np', 'head.bias': 'mine', 'head.weight': 'emb.weight' });
    expect(out.ckpt.tensors.find((t) => t.name === 'emb.weight')!.dtype).toBe('F32');
  });

  it('targetDType casts only F32/F16/BF16/F64', () => {
    expect(targetDType('F64', 'BF16')).toBe('BF16');
    expect(targetDType('F16', 'F32')).toBe('F32');
    expect(targetDType('I32', 'F16')).toBe('I32');
    expect(targetDType('F8_E4M3', 'F16')).toBe('F8_E4M3');
    expect(targetDType('BOOL', 'F16')).toBe('BOOL');
    expect(targetDType('F32', undefined)).toBe('F32');
  });

  it('a missing source file → E_MISSING_FILE naming it; sink closed', async () => {
    const { ckpt } = synthetic();
    const sinks = new MemorySinks();
    const e = await expectFerry(convertToSafetensors(ckpt, new FileSet([]), sinks.factory), 'E_MISSING_FILE');
    expect(e.file).toBe('data.bin');
    for (const s of sinks.opened) expect(sinks.closed.has(s)).toBe(true);
  });

  it('bad options → E_ARGUMENT', async () => {
    const { ckpt, files } = synthetic();
    await expectFerry(convertToSafetensors(ckpt, files, new MemorySinks().factory, { dtype: 'F64' as never }), 'E_ARGUMENT');
    await expectFerry(convertToSafetensors(ckpt, files, new MemorySinks().factory, { maxShardSize: -1 }), 'E_ARGUMENT');
  });
});
