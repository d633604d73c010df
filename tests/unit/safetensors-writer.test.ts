import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { safetensorsReader, SAFETENSORS_DTYPES } from '../../src/core/formats/safetensors/index.js';
import {
  encodeSafetensorsHeader,
  encodeShardIndex,
  planShards,
  writeSafetensors,
} from '../../src/core/formats/safetensors/write.js';
import type { WritableTensor } from '../../src/core/formats/safetensors/write.js';
import type { DType } from '../../src/core/ir/dtype.js';
import { DTYPES } from '../../src/core/ir/dtype.js';
import { readTensor } from '../../src/core/ir/materialize.js';
import { expectFerry, fixtureFiles, haveFixtures, HF_TINY, MemorySinks } from './safetensors-helpers.js';

let seed = 42;
function randomBytes(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (seed = (seed * 1103515245 + 12345) & 0x7fffffff) >>> 16;
  return b;
}

function tensor(name: string, dtype: DType, shape: number[], bytes: Uint8Array, chunk = 7): WritableTensor {
  return {
    name,
    dtype,
    shape,
    // deliberately odd chunking: the writer must not care
    chunks: async function* () {
      for (let o = 0; o < bytes.length; o += chunk) yield bytes.subarray(o, o + chunk);
    },
  };
}

/** A shape for `dtype` whose size is a whole number of bytes. */
function shapeFor(d: DType): number[] {
  const bits = DTYPES[d].bits;
  return bits === 4 ? [2, 3] : bits === 6 ? [2, 4] : [3, 2];
}

async function readBack(sinks: MemorySinks, entry: string) {
  const files = sinks.fileSet();
  const ckpt = await safetensorsReader.read(files.get(entry)!, { files });
  const data = new Map<string, Uint8Array>();
  for (const t of ckpt.tensors) data.set(t.name, (await readTensor(t, files)).slice());
  return { ckpt, data };
}

describe('safetensors writer ↔ reader round trip', () => {
  it('every safetensors dtype, empty tensors, 0-d scalars, metadata', async () => {
    const tensors: { name: string; dtype: DType; shape: number[]; bytes: Uint8Array }[] = [];
    for (const d of SAFETENSORS_DTYPES) {
      const shape = shapeFor(d);
      const numel = shape.reduce((a, b) => a * b, 1);
      tensors.push({ name: `t.${d}`, dtype: d, shape, bytes: randomBytes((numel * DTYPES[d].bits) / 8) });
      if (DTYPES[d].bits % 8 === 0) {
        tensors.push({ name: `scalar.${d}`, dtype: d, shape: [], bytes: randomBytes(DTYPES[d].bits / 8) });
      }
      tensors.push({ name: `empty.${d}`, dtype: d, shape: [4, 0], bytes: new Uint8Array(0) });
    }
    tensors.push({ name: '10', dtype: 'U8', shape: [1], bytes: new Uint8Array([10]) });
    tensors.push({ name: '2', dtype: 'U8', shape: [1], bytes: new Uint8Array([2]) });
    tensors.push({ name: 'ünï \u{1F600} "q"', dtype: 'I32', shape: [1], bytes: randomBytes(4) });
    const metadata = { format: 'pt', note: 'héllo "x"', empty: '' };
    const sinks = new MemorySinks();
    const res = await writeSafetensors(
      tensors.map((t) => tensor(t.name, t.dtype, t.shape, t.bytes)),
      sinks.factory,
      { metadata },
    );
    expect(res.files.map((f) => f.name)).toEqual(['model.safetensors']);
    const file = sinks.files.get('model.safetensors')!;
    expect(res.files[0]!.bytes).toBe(file.length);
    expect(res.totalBytes).toBe(tensors.reduce((a, t) => a + t.bytes.length, 0));
    const { ckpt, data } = await readBack(sinks, 'model.safetensors');
    expect(ckpt.metadata).toEqual(metadata);
    expect(ckpt.tensors.map((t) => [t.name, t.dtype, t.shape])).toEqual(tensors.map((t) => [t.name, t.dtype, t.shape]));
    for (const t of tensors) expect(data.get(t.name), t.name).toEqual(t.bytes);
    expect(sinks.closed.has('model.safetensors')).toBe(true);
  });

  it('header layout: __metadata__ first, compact JSON, space padding to a multiple of 8', () => {
    const h = encodeSafetensorsHeader(
      [
        { name: 'b', dtype: 'F32', shape: [2] },
        { name: 'a', dtype: 'U8', shape: [3] },
      ],
      { format: 'pt' },
    );
    const n = Number(new DataView(h.buffer).getBigUint64(0, true));
    expect(h.length).toBe(8 + n);
    expect(n % 8).toBe(0);
    const text = new TextDecoder().decode(h.subarray(8));
    const json = '{"__metadata__":{"format":"pt"},"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{"dtype":"U8","shape":[3],"data_offsets":[8,11]}}';
    expect(text).toBe(json + ' '.repeat(n - json.length));
    // no metadata → no __metadata__ key
    expect(new TextDecoder().decode(encodeSafetensorsHeader([], undefined).subarray(8)).trimEnd()).toBe('{}');
  });

  it('refuses duplicate names, bad sizes and wrong byte counts', async () => {
    const s = new MemorySinks();
    await expectFerry(writeSafetensors([tensor('a', 'U8', [1], new Uint8Array(1)), tensor('a', 'U8', [1], new Uint8Array(1))], s.factory), 'E_DUPLICATE');
    await expectFerry(writeSafetensors([tensor('a', 'F4', [3], new Uint8Array(2))], s.factory), 'E_SHAPE');
    const s2 = new MemorySinks();
    await expectFerry(writeSafetensors([tensor('a', 'F32', [2], new Uint8Array(4))], s2.factory), 'E_INTERNAL');
    expect(s2.closed.has('model.safetensors')).toBe(true);
  });
});

describe.skipIf(!haveFixtures)('writer reproduces real files byte for byte', () => {
  for (const rel of ['gpt2/model.safetensors', 'bert-mlm/model.safetensors', 'gpt2/fp16/model.safetensors', 'gpt2/sharded/model-00003-of-00003.safetensors']) {
    it(rel, async () => {
      const folder = rel.slice(0, rel.lastIndexOf('/'));
      const name = rel.slice(rel.lastIndexOf('/') + 1);
      const files = await fixtureFiles(folder);
      const ckpt = await safetensorsReader.read(files.get(name)!, { files });
      const sinks = new MemorySinks();
      await writeSafetensors(
        ckpt.tensors.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape, chunks: async function* () { yield await readTensor(t, files); } })),
        sinks.factory,
        { metadata: ckpt.metadata },
      );
      const ours = sinks.files.get('model.safetensors')!;
      const theirs = readFileSync(join(HF_TINY, rel));
      expect(createHash('sha256').update(ours).digest('hex')).toBe(createHash('sha256').update(theirs).digest('hex'));
    });
  }
});

describe('sharding (huggingface_hub split_torch_state_dict_into_shards semantics)', () => {
  it('starts a new shard when the next tensor would exceed the limit', () => {
    const p = planShards([40, 40, 30, 10, 50], 100);
    expect(p.map((s) => s.tensors)).toEqual([[0, 1], [2, 3, 4]]);
    expect(p.map((s) => s.name)).toEqual(['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']);
    expect(p.map((s) => s.bytes)).toEqual([80, 90]);
  });
  it('a tensor bigger than the limit gets its own shard, appended at once', () => {
    const p = planShards([30, 250, 30, 60], 100);
    expect(p.map((s) => s.tensors)).toEqual([[1], [0, 2], [3]]);
  });
  it('exactly the limit fits', () => {
    expect(planShards([50, 50, 1], 100).map((s) => s.tensors)).toEqual([[0, 1], [2]]);
  });
  it('one shard → model.safetensors; no limit → model.safetensors', () => {
    expect(planShards([10, 20], 100)).toEqual([{ name: 'model.safetensors', tensors: [0, 1], bytes: 30 }]);
    expect(planShards([10, 20])).toEqual([{ name: 'model.safetensors', tensors: [0, 1], bytes: 30 }]);
    expect(() => planShards([1], 0)).toThrow(/maxShardSize/);
  });

  it.skipIf(!haveFixtures)('index JSON is byte-identical to transformers’ (gpt2/sharded)', () => {
    const text = readFileSync(join(HF_TINY, 'gpt2/sharded/model.safetensors.index.json'), 'utf8');
    const j = JSON.parse(text) as { metadata: { total_size: number }; weight_map: Record<string, string> };
    // feed the entries unsorted: the encoder sorts like json.dumps(sort_keys=True)
    const shuffled = new Map(Object.entries(j.weight_map).reverse());
    expect(encodeShardIndex(j.metadata.total_size, shuffled)).toBe(text);
  });

  it('index escaping follows Python json.dumps (ensure_ascii)', () => {
    const s = encodeShardIndex(3, { 'é\u{1F600}\u007f': 'a', b: 'x"y' });
    expect(s).toBe('{\n  "metadata": {\n    "total_size": 3\n  },\n  "weight_map": {\n    "b": "x\\"y",\n    "\\u00e9\\ud83d\\ude00\\u007f": "a"\n  }\n}\n');
  });

  it('sharded round trip', async () => {
    const tensors = [
      { name: 'a', dtype: 'F32' as DType, shape: [10], bytes: randomBytes(40) },
      { name: 'big', dtype: 'I64' as DType, shape: [20], bytes: randomBytes(160) },
      { name: 'c', dtype: 'BF16' as DType, shape: [30], bytes: randomBytes(60) },
      { name: 'd', dtype: 'U8' as DType, shape: [50], bytes: randomBytes(50) },
      { name: 'e', dtype: 'BOOL' as DType, shape: [0], bytes: new Uint8Array(0) },
    ];
    const sinks = new MemorySinks();
    const progress: number[] = [];
    const res = await writeSafetensors(
      tensors.map((t) => tensor(t.name, t.dtype, t.shape, t.bytes, 16)),
      sinks.factory,
      { maxShardSize: 100, metadata: { format: 'pt' }, onProgress: (p) => progress.push(p.bytesDone) },
    );
    expect(res.files.map((f) => f.name)).toEqual([
      'model-00001-of-00003.safetensors',
      'model-00002-of-00003.safetensors',
      'model-00003-of-00003.safetensors',
      'model.safetensors.index.json',
    ]);
    expect(res.totalBytes).toBe(310);
    expect(progress[progress.length - 1]).toBe(310);
    expect([...progress].sort((x, y) => x - y)).toEqual(progress);
    const index = JSON.parse(new TextDecoder().decode(sinks.files.get('model.safetensors.index.json'))) as {
      metadata: { total_size: number };
      weight_map: Record<string, string>;
    };
    expect(index.metadata.total_size).toBe(310);
    expect(index.weight_map).toEqual({
      big: 'model-00001-of-00003.safetensors',
      a: 'model-00002-of-00003.safetensors',
      c: 'model-00002-of-00003.safetensors',
      d: 'model-00003-of-00003.safetensors',
      e: 'model-00003-of-00003.safetensors',
    });
    const { ckpt, data } = await readBack(sinks, 'model.safetensors.index.json');
    expect(ckpt.tensors.map((t) => t.name).sort()).toEqual(['a', 'big', 'c', 'd', 'e']);
    for (const t of tensors) expect(data.get(t.name), t.name).toEqual(t.bytes);
    for (const name of sinks.opened) expect(sinks.closed.has(name)).toBe(true);
  });
});
