import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { FerryError } from '../../src/core/errors.js';
import { FileSet, MemorySource } from '../../src/core/io/source.js';

/** A MemorySource that keeps its bytes visible to the test. */
class Mem extends MemorySource {
  constructor(
    name: string,
    readonly data: Uint8Array,
  ) {
    super(name, data);
  }
}
import type { ByteSource } from '../../src/core/io/source.js';
import { tfjsReader } from '../../src/core/formats/tfjs/index.js';
import { onnxReader } from '../../src/core/formats/onnx/index.js';
import { readTensor } from '../../src/core/ir/materialize.js';
import type { Checkpoint, TensorRef } from '../../src/core/ir/checkpoint.js';

const FIX = join(import.meta.dirname, '../fixtures/tfjs');

interface Expected {
  shape: number[];
  values: number[];
  original?: number[];
  quantization?: { dtype: string; scale?: number; min?: number } | null;
}
const expected = JSON.parse(readFileSync(join(FIX, 'expected.json'), 'utf8')) as { models: Record<string, Record<string, Expected>> };

/** All files of a fixture folder, named '<dir>/<file>'. */
function folder(dir: string): Mem[] {
  return readdirSync(join(FIX, dir))
    .sort()
    .map((f) => new Mem(`${dir}/${f}`, new Uint8Array(readFileSync(join(FIX, dir, f)))));
}

async function open(dir: string, sources: ByteSource[] = folder(dir)): Promise<{ ck: Checkpoint; files: FileSet }> {
  const files = new FileSet(sources);
  const entry = files.get(`${dir}/model.json`) as ByteSource;
  return { ck: await tfjsReader.read(entry, { files }), files };
}

async function values(t: TensorRef, files: FileSet): Promise<number[]> {
  const b = await readTensor(t, files);
  const copy = b.slice();
  if (t.dtype === 'F32') return Array.from(new Float32Array(copy.buffer));
  if (t.dtype === 'I32') return Array.from(new Int32Array(copy.buffer));
  if (t.dtype === 'BOOL') return Array.from(copy);
  throw new Error(`no decoder for ${t.dtype}`);
}

describe('tfjs: layers model saved by TF.js', () => {
  it('reads weights spanning shard files exactly as tf.io.decodeWeights does', async () => {
    const { ck, files } = await open('layers');
    expect(ck.format).toBe('tfjs');
    expect(ck.files).toEqual(['layers/model.json', 'layers/group1-shard1of3.bin', 'layers/group1-shard2of3.bin', 'layers/group1-shard3of3.bin']);
    const exp = expected.models.layers ?? {};
    expect(ck.tensors.map((t) => t.name)).toEqual(Object.keys(exp));
    let multiSpan = 0;
    for (const t of ck.tensors) {
      const e = exp[t.name] as Expected;
      expect(t.shape).toEqual(e.shape);
      expect(t.dtype).toBe('F32');
      if (t.data.kind === 'spans' && t.data.spans.length > 1) multiSpan++;
      expect(await values(t, files)).toEqual(e.values);
    }
    expect(multiSpan).toBeGreaterThan(0);
    const g = ck.graph;
    expect(g?.opCounts).toEqual([{ op: 'Dense', count: 2 }]);
    expect(g?.nodeCount).toBe(2);
    expect(g?.inputs[0]).toMatchObject({ dtype: 'F32', shape: ['?', 4] });
    expect(g?.outputs.map((o) => o.name)).toEqual(['dense_b']);
    expect(ck.metadata?.format).toBe('layers-model');
  });

  it('quantized weights: uint8/uint16 affine and float16, equal to the TF.js formula and within scale/2 of the originals', async () => {
    const { ck, files } = await open('layers-quant');
    const exp = expected.models['layers-quant'] ?? {};
    const seen = new Set<string>();
    for (const t of ck.tensors) {
      const e = exp[t.name] as Expected;
      const got = await values(t, files);
      // exactly what TF.js's own decoder produces
      expect(got).toEqual(e.values);
      const q = e.quantization;
      const orig = e.original as number[];
      if (q && (q.dtype === 'uint8' || q.dtype === 'uint16')) {
        seen.add(q.dtype);
        expect(t.storedDtype).toBe(q.dtype === 'uint8' ? 'U8' : 'U16');
        expect(t.data).toMatchObject({ kind: 'spans', encoding: { kind: 'affine-quant', stored: t.storedDtype, scale: q.scale, min: q.min } });
        // the formula, recomputed from the stored integers
        const raw = await readTensor({ ...t, dtype: t.storedDtype as 'U8' | 'U16', storedDtype: undefined, data: { ...t.data, encoding: { kind: 'raw' } } } as TensorRef, files);
        const ints = q.dtype === 'uint8' ? Array.from(raw) : Array.from(new Uint16Array(raw.slice().buffer));
        expect(got).toEqual(ints.map((v) => Math.fround(v * (q.scale as number) + (q.min as number))));
        for (let i = 0; i < got.length; i++) expect(Math.abs((got[i] as number) - (orig[i] as number))).toBeLessThanOrEqual((q.scale as number) / 2 + 1e-6);
      } else if (q && q.dtype === 'float16') {
        seen.add('float16');
        expect(t.storedDtype).toBe('F16');
        for (let i = 0; i < got.length; i++) expect(Math.abs((got[i] as number) - (orig[i] as number))).toBeLessThanOrEqual(Math.abs(orig[i] as number) * 2 ** -11 + 2 ** -25);
      } else {
        seen.add('none');
        expect(got).toEqual(orig);
      }
    }
    expect([...seen].sort()).toEqual(['float16', 'none', 'uint16', 'uint8']);
  });
});

describe('tfjs: graph model', () => {
  it('reads float32/int32/bool weights, skips strings with a warning, and summarises the GraphDef', async () => {
    const { ck, files } = await open('graph');
    const exp = expected.models.graph ?? {};
    expect(ck.tensors.map((t) => t.name)).toEqual(['w', 'b', 'idx', 'mask']);
    for (const t of ck.tensors) expect(await values(t, files)).toEqual((exp[t.name] as Expected).values);
    expect(ck.tensors.map((t) => t.dtype)).toEqual(['F32', 'F32', 'I32', 'BOOL']);
    expect(ck.warnings.join('\n')).toMatch(/labels \(string\)/);
    const g = ck.graph;
    expect(g?.nodeCount).toBe(9);
    expect(g?.opCounts[0]).toEqual({ op: 'Const', count: 5 });
    expect(g?.inputs).toEqual([{ name: 'x:0', dtype: 'F32', shape: ['?', 4] }]);
    expect(g?.outputs).toEqual([{ name: 'y:0', dtype: 'F32', shape: ['?', 3] }]);
    expect(g?.producer).toBe('graph-model / make_tfjs_fixtures.ts / hand-written GraphDef');
    // the weights compute what TF.js computed: relu(x @ w + b) for x = [1, 2, 3, 4]
    const w = await values(ck.tensors[0] as TensorRef, files);
    const b = await values(ck.tensors[1] as TensorRef, files);
    const y = [0, 1, 2].map((j) => Math.max(0, Math.fround([0, 1, 2, 3].reduce((s, i) => Math.fround(s + (i + 1) * (w[i * 3 + j] as number)), 0) + (b[j] as number))));
    const want = exp.__output_y_for_x_1234 as unknown as number[];
    for (let j = 0; j < 3; j++) expect(y[j]).toBeCloseTo(want[j] as number, 5);
  });

  it('falls back to Placeholder nodes when there is no signature', async () => {
    const src = folder('graph');
    const mj = src.find((s) => s.name === 'graph/model.json') as Mem;
    const json = JSON.parse(new TextDecoder().decode(mj.data)) as Record<string, unknown>;
    delete json.signature;
    const edited = new MemorySource('graph/model.json', new TextEncoder().encode(JSON.stringify(json)));
    const { ck } = await open('graph', [...src.filter((s) => s !== mj), edited]);
    expect(ck.graph?.inputs).toEqual([{ name: 'x', dtype: 'F32', shape: ['?', 4] }]);
  });
});

describe('tfjs: sniffing and errors', () => {
  const enc = (s: string) => new TextEncoder().encode(s);

  it('sniffs model.json by content and by name only', () => {
    expect(tfjsReader.sniff(enc(' {"format": "graph-model", "modelTopology": {'), 'x.json')).toBe(2);
    expect(tfjsReader.sniff(enc('{"weightsManifest": []}'), 'weights.json')).toBe(2);
    expect(tfjsReader.sniff(enc('{"architectures": ["Bert"]}'), 'config.json')).toBe(0);
    expect(tfjsReader.sniff(enc('{"x": 1}'), 'some/dir/model.json')).toBe(1);
    // a safetensors header mentioning the word is not a model.json
    expect(tfjsReader.sniff(new Uint8Array([0x20, 0, 0, 0, 0, 0, 0, 0, ...enc('{"modelTopology":{"dtype":"F32"}}')]), 'a.safetensors')).toBe(0);
    // and ONNX does not claim model.json files
    const head = readFileSync(join(FIX, 'graph/model.json')).subarray(0, 4096);
    expect(onnxReader.sniff(head, 'model.json')).toBe(0);
  });

  it('missing shard → E_MISSING_FILE naming it', async () => {
    const src = folder('layers').filter((s) => !s.name.endsWith('shard2of3.bin'));
    await expect(open('layers', src)).rejects.toMatchObject({ code: 'E_MISSING_FILE', file: 'layers/group1-shard2of3.bin' });
  });

  it('shard sizes that disagree with the manifest → E_OFFSETS with file and offset', async () => {
    const src = folder('layers');
    const last = src.find((s) => s.name.endsWith('shard3of3.bin')) as Mem;
    const shorter = src.map((s) => (s === last ? new MemorySource(s.name, last.data.subarray(0, 60)) : s));
    const e = (await open('layers', shorter).catch((x: unknown) => x)) as FerryError;
    expect(e).toBeInstanceOf(FerryError);
    expect(e.code).toBe('E_OFFSETS');
    expect(e.tensor).toBeDefined();
    expect(e.file).toMatch(/layers\//);
    expect(typeof e.offset).toBe('number');
    const longer = src.map((s) => (s === last ? new MemorySource(s.name, new Uint8Array(80)) : s));
    await expect(open('layers', longer)).rejects.toMatchObject({ code: 'E_OFFSETS', file: 'layers/group1-shard3of3.bin', offset: 68 });
  });

  it('malformed model.json → E_JSON / E_SHAPE / E_DTYPE, never anything else', async () => {
    const withJson = async (text: string) => {
      const files = new FileSet([new MemorySource('m/model.json', enc(text)), new MemorySource('m/w.bin', new Uint8Array([100, 0, 0, 0, 0, 0, 0, 0]))]);
      return tfjsReader.read(files.get('m/model.json') as ByteSource, { files });
    };
    await expect(withJson('{"modelTopology": {')).rejects.toMatchObject({ code: 'E_JSON', file: 'm/model.json' });
    await expect(withJson('[1,2]')).rejects.toMatchObject({ code: 'E_JSON' });
    const man = (w: unknown) => JSON.stringify({ modelTopology: {}, weightsManifest: [{ paths: ['w.bin'], weights: [w] }] });
    await expect(withJson(man({ name: 'a', shape: [-1], dtype: 'float32' }))).rejects.toMatchObject({ code: 'E_SHAPE', tensor: 'a' });
    await expect(withJson(man({ name: 'a', shape: [2], dtype: 'float64' }))).rejects.toMatchObject({ code: 'E_DTYPE', tensor: 'a' });
    await expect(withJson(man({ name: 'a', shape: [8], dtype: 'float32', quantization: { dtype: 'uint8' } }))).rejects.toMatchObject({ code: 'E_JSON', tensor: 'a' });
    await expect(withJson(man({ name: 'a', shape: [1e6, 1e6], dtype: 'float32' }))).rejects.toMatchObject({ code: 'E_OFFSETS', tensor: 'a' });
    // a string weight whose declared lengths run past the data
    await expect(withJson(man({ name: 's', shape: [1], dtype: 'string' }))).rejects.toMatchObject({ code: 'E_OFFSETS', tensor: 's' });
    const ok = await withJson(man({ name: 'a', shape: [2], dtype: 'int32' }));
    expect(ok.tensors[0]?.dtype).toBe('I32');
    // random truncations of a real model.json never escape as non-FerryErrors
    const text = readFileSync(join(FIX, 'layers/model.json'), 'utf8');
    for (let cut = 1; cut < text.length; cut += 97) {
      await withJson(text.slice(0, cut)).catch((e: unknown) => {
        expect(e).toBeInstanceOf(FerryError);
      });
    }
  });
});
