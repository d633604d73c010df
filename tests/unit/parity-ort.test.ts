/**
 * Issue 3 groundwork: the torch-exported hf-tiny ONNX models run on onnxruntime-web (wasm, in Node) reproduce the
 * PyTorch reference outputs (max abs ≤ 1e-4), measured with the parity metrics. Cases come from each reference.json.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { openPaths } from '../../src/core/io/node.js';
import { openCheckpoint } from '../../src/core/formats/registry.js';
import { readTensor } from '../../src/core/ir/materialize.js';
import { OrtSession } from '../../src/core/runtime/ort.js';
import type { HostTensor } from '../../src/core/runtime/ort.js';
import { compareTensors, topKAgreement, ulpF32 } from '../../src/core/parity/metrics.js';

const HF = resolve(__dirname, '../../../shared/fixtures/hf-tiny');

async function loadNpy(path: string): Promise<HostTensor> {
  const { files, entries } = await openPaths([path]);
  const ck = await openCheckpoint(files, entries[0]);
  const t = ck.tensors[0];
  if (!t) throw new Error(`no tensor in ${path}`);
  const b = (await readTensor(t, files)).slice();
  if (t.dtype === 'I64') return { type: 'int64', dims: t.shape, data: new BigInt64Array(b.buffer) };
  if (t.dtype === 'F32') return { type: 'float32', dims: t.shape, data: new Float32Array(b.buffer) };
  throw new Error(`unexpected dtype ${t.dtype}`);
}

interface OnnxRef {
  inputs: string[];
  outputs: string[];
  reference_for_output: Record<string, string>;
}

const models = readdirSync(HF).filter((d) => existsSync(join(HF, d, 'reference.json')));

describe('parity metrics', () => {
  it('compute the documented quantities', () => {
    const m = compareTensors([1, 2, 3, NaN, Infinity], [1, 2.5, 3, NaN, -Infinity]);
    expect(m.maxAbs).toBe(0.5);
    expect(m.refNaN).toBe(1);
    expect(m.nonFiniteMismatch).toBe(1);
    expect(m.rmse).toBeCloseTo(Math.sqrt(0.25 / 3), 12);
    expect(m.maxUlp).toBe(0.5 / ulpF32(2));
    expect(compareTensors([0, 0], [0, 0]).cosine).toBe(1);
    expect(topKAgreement([0, 1, 2, 5, 4, 3], [0, 1, 9, 3, 4, 5], 3, 2)).toEqual({ rows: 2, top1: 0.5, topK: 0.75 });
  });
});

describe('torch-exported hf-tiny ONNX on onnxruntime-web wasm vs PyTorch', () => {
  for (const m of models) {
    const ref = JSON.parse(readFileSync(join(HF, m, 'reference.json'), 'utf8')) as { onnx: Record<string, OnnxRef> };
    for (const [file, spec] of Object.entries(ref.onnx)) {
      it(`${m}/${file}: every output within 1e-4`, async () => {
        const session = await OrtSession.create(readFileSync(join(HF, m, file)), 'wasm', file);
        try {
          const feeds: Record<string, HostTensor> = {};
          for (const name of spec.inputs) feeds[name] = await loadNpy(join(HF, m, 'inputs', `${name}.npy`));
          const out = await session.run(feeds);
          for (const name of spec.outputs) {
            const want = await loadNpy(join(HF, m, 'outputs', `${spec.reference_for_output[name]}.npy`));
            const got = out[name];
            expect(got?.dims).toEqual(want.dims);
            const metrics = compareTensors(want.data as Float32Array, got!.data as Float32Array);
            expect(metrics.maxAbs, `${name}: ${JSON.stringify(metrics)}`).toBeLessThanOrEqual(1e-4);
            expect(metrics.nonFiniteMismatch).toBe(0);
          }
        } finally {
          await session.release();
        }
      });
    }
  }
});
