import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pytorchReader } from '../../src/core/formats/pytorch/index.js';
import { FileSet, MemorySource } from '../../src/core/io/source.js';
import { readTensor, sha256Hex } from '../../src/core/ir/materialize.js';
import type { Checkpoint } from '../../src/core/ir/checkpoint.js';

const DIR = join(import.meta.dirname, '../fixtures/torch');

interface Expected {
  name: string;
  dtype: string;
  shape: number[];
  sha256: string;
}
const REF = JSON.parse(readFileSync(join(DIR, 'tensors.json'), 'utf8')) as { files: Record<string, Expected[]> };

async function open(file: string): Promise<{ ckpt: Checkpoint; files: FileSet }> {
  const src = new MemorySource(file, new Uint8Array(readFileSync(join(DIR, file))));
  const files = new FileSet([src]);
  const head = await src.read(0, Math.min(4096, src.size));
  expect(pytorchReader.sniff(head, file)).toBe(2);
  return { ckpt: await pytorchReader.read(src, { files }), files };
}

async function listTensors(ckpt: Checkpoint, files: FileSet): Promise<Expected[]> {
  const out: Expected[] = [];
  for (const t of ckpt.tensors) out.push({ name: t.name, dtype: t.dtype, shape: t.shape, sha256: await sha256Hex(await readTensor(t, files)) });
  return out;
}

describe('PyTorch reader on torch-generated fixtures', () => {
  const names = readdirSync(DIR).filter((f) => f.endsWith('.pt'));
  it('has every fixture listed in tensors.json', () => {
    expect(names.sort()).toEqual(Object.keys(REF.files).sort());
    expect(names.length).toBeGreaterThanOrEqual(20);
  });
  for (const file of Object.keys(REF.files)) {
    it(`${file}: names (in torch.load order), dtypes, shapes, sha256`, async () => {
      const { ckpt, files } = await open(file);
      expect(await listTensors(ckpt, files)).toEqual(REF.files[file]);
    });
  }

  for (const file of ['views.pt', 'views.legacy.pt']) {
    it(`${file}: views share one storage; contiguous views are raw sub-spans, others strided`, async () => {
      const { ckpt } = await open(file);
      const by = new Map(ckpt.tensors.map((t) => [t.name, t]));
      const base = by.get('base')!;
      const slice = by.get('slice')!;
      const third = by.get('every_third')!;
      expect(base.data.kind === 'spans' && base.data.encoding.kind).toBe('raw');
      expect(slice.data.kind === 'spans' && slice.data.encoding.kind).toBe('raw');
      if (base.data.kind !== 'spans' || slice.data.kind !== 'spans' || third.data.kind !== 'spans') throw new Error('not lazy');
      expect(slice.data.spans[0]!.offset).toBe(base.data.spans[0]!.offset + 2 * 4);
      expect(slice.data.spans[0]!.length).toBe(8 * 4);
      expect(third.data.encoding).toEqual({ kind: 'strided', storageOffset: 1, strides: [3] });
      expect(third.data.spans[0]).toEqual(base.data.spans[0]);
      // views are not tied weights
      expect(ckpt.tensors.every((t) => t.aliases === undefined)).toBe(true);
    });
  }

  for (const file of ['tied.pt', 'tied.legacy.pt']) {
    it(`${file}: tied weights are aliases of each other`, async () => {
      const { ckpt } = await open(file);
      const by = new Map(ckpt.tensors.map((t) => [t.name, t]));
      expect(by.get('embed.weight')!.aliases).toEqual(['lm_head.weight']);
      expect(by.get('lm_head.weight')!.aliases).toEqual(['embed.weight']);
      expect(by.get('norm.weight')!.aliases).toBeUndefined();
    });
  }

  for (const file of ['nested.pt', 'nested.legacy.pt']) {
    it(`${file}: nested containers flatten to dotted names; non-tensors are summarised`, async () => {
      const { ckpt } = await open(file);
      expect(ckpt.tensors.map((t) => t.name)).toEqual([
        'state_dict.encoder.weight',
        'state_dict.encoder.bias',
        'state_dict.decoder.weight',
        'optimizer.state.0.exp_avg',
        'optimizer.state.1.exp_avg',
      ]);
      const w = ckpt.warnings.find((x) => x.startsWith('skipped'));
      expect(w).toBeDefined();
      expect(w).toMatch(/^skipped 12 non-tensor entries: optimizer\.state\.0\.step, optimizer\.state\.1\.step, optimizer\.param_groups\.0\.lr, /);
      expect(w).toContain('epoch');
    });
  }

  it('bare tensor is named "tensor"; legacy files say so in a warning', async () => {
    const { ckpt } = await open('bare_tensor.legacy.pt');
    expect(ckpt.tensors.map((t) => t.name)).toEqual(['tensor']);
    expect(ckpt.warnings.some((w) => w.includes('legacy'))).toBe(true);
  });

  it('deflated storages become inline contiguous bytes', async () => {
    const { ckpt } = await open('transposed.deflated.pt');
    expect(ckpt.tensors.every((t) => t.data.kind === 'inline')).toBe(true);
    expect(ckpt.warnings.some((w) => w.includes('inflated'))).toBe(true);
  });

  it('big-endian archives byteswap lazily (raw → byteswap, strided → bigEndian)', async () => {
    const { ckpt } = await open('views.bigendian.pt');
    const enc = ckpt.tensors.map((t) => (t.data.kind === 'spans' ? t.data.encoding : undefined));
    expect(enc[0]).toEqual({ kind: 'byteswap' });
    expect(enc.some((e) => e?.kind === 'strided' && e.bigEndian === true)).toBe(true);
  });
});
