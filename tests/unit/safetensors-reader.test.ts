import { describe, expect, it } from 'vitest';
import { safetensorsReader } from '../../src/core/formats/safetensors/index.js';
import { FileSet, MemorySource } from '../../src/core/io/source.js';
import { fixtureFiles, haveFixtures, tensorList, tensorsJson } from './safetensors-helpers.js';

const CASES: { folder: string; file: string }[] = [
  { folder: 'bert', file: 'model.safetensors' },
  { folder: 'bert-mlm', file: 'model.safetensors' },
  { folder: 'gpt2', file: 'model.safetensors' },
  { folder: 'vit', file: 'model.safetensors' },
  { folder: 'gpt2/fp16', file: 'model.safetensors' },
  { folder: 'gpt2/bf16', file: 'model.safetensors' },
  { folder: 'gpt2/sharded', file: 'model-00001-of-00003.safetensors' },
  { folder: 'gpt2/sharded', file: 'model-00002-of-00003.safetensors' },
  { folder: 'gpt2/sharded', file: 'model-00003-of-00003.safetensors' },
  { folder: 'gpt2/sharded', file: 'model.safetensors.index.json' },
];

describe.skipIf(!haveFixtures)('safetensors reader on hf-tiny', () => {
  for (const c of CASES) {
    it(`${c.folder}/${c.file}: names, dtypes, shapes, sha256 in order`, async () => {
      const files = await fixtureFiles(c.folder);
      const src = files.get(c.file);
      expect(src).toBeDefined();
      const head = await src!.read(0, Math.min(4096, src!.size));
      expect(safetensorsReader.sniff(head, c.file)).toBe(c.file.endsWith('.json') ? 1 : 2);
      const ckpt = await safetensorsReader.read(src!, { files });
      expect(ckpt.format).toBe('safetensors');
      expect(ckpt.entry).toBe(c.file);
      const expected = tensorsJson(c.folder)[c.file];
      expect(expected).toBeDefined();
      const got = await tensorList(ckpt, files);
      expect(got.map((t) => t.name)).toEqual(expected!.map((t) => t.name));
      expect(got).toEqual(expected!.map(({ name, dtype, shape, sha256 }) => ({ name, dtype, shape, sha256 })));
      if (c.file.endsWith('.json')) {
        expect(ckpt.files).toEqual(['model-00001-of-00003.safetensors', 'model-00002-of-00003.safetensors', 'model-00003-of-00003.safetensors']);
        expect(ckpt.warnings).toEqual([]);
      } else {
        expect(ckpt.files).toEqual([c.file]);
      }
      expect(ckpt.metadata).toEqual({ format: 'pt' });
      // Lazy: every tensor is one raw span inside the file it came from.
      for (const t of ckpt.tensors) {
        expect(t.data.kind).toBe('spans');
        if (t.data.kind === 'spans') {
          expect(t.data.encoding.kind).toBe('raw');
          expect(t.data.spans).toHaveLength(1);
        }
      }
    });
  }

  it('bert-mlm model.safetensors has no tied duplicates (transformers removed them)', async () => {
    const files = await fixtureFiles('bert-mlm');
    const ckpt = await safetensorsReader.read(files.get('model.safetensors')!, { files });
    const names = ckpt.tensors.map((t) => t.name);
    expect(names).toContain('bert.embeddings.word_embeddings.weight');
    expect(names).toContain('cls.predictions.bias');
    expect(names).not.toContain('cls.predictions.decoder.weight');
  });
});

describe('safetensors sniff', () => {
  const hdr = (n: bigint, next: number): Uint8Array => {
    const b = new Uint8Array(16);
    new DataView(b.buffer).setBigUint64(0, n, true);
    b[8] = next;
    return b;
  };
  it('accepts a plausible header length followed by {', () => {
    expect(safetensorsReader.sniff(hdr(64n, 0x7b), 'x.bin')).toBe(2);
    expect(safetensorsReader.sniff(hdr(100_000_000n, 0x7b), 'weights')).toBe(2);
  });
  it('refuses implausible lengths or a missing {', () => {
    expect(safetensorsReader.sniff(hdr(100_000_001n, 0x7b), 'x')).toBe(0);
    expect(safetensorsReader.sniff(hdr(64n, 0x5b), 'x')).toBe(0);
    expect(safetensorsReader.sniff(new Uint8Array([1, 2, 3]), 'x')).toBe(0);
    expect(safetensorsReader.sniff(new TextEncoder().encode('PK\x03\x04xxxxxxxxxx'), 'model.safetensors')).toBe(0);
  });
  it('recognises a shard index by name only', () => {
    expect(safetensorsReader.sniff(new TextEncoder().encode('{\n  "metadata"'), 'a/model.safetensors.index.json')).toBe(1);
    expect(safetensorsReader.sniff(new TextEncoder().encode('{\n  "metadata"'), 'pytorch_model.bin.index.json')).toBe(0);
  });
});

describe('safetensors reader order', () => {
  it('keeps the header order, including integer-like names JSON.parse would move first', async () => {
    const json = '{"b":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"10":{"dtype":"U8","shape":[1],"data_offsets":[1,2]},"2":{"dtype":"U8","shape":[1],"data_offsets":[2,3]}}';
    const h = new TextEncoder().encode(json);
    const b = new Uint8Array(8 + h.length + 3);
    new DataView(b.buffer).setBigUint64(0, BigInt(h.length), true);
    b.set(h, 8);
    b.set([7, 8, 9], 8 + h.length);
    const src = new MemorySource('o.safetensors', b);
    const ckpt = await safetensorsReader.read(src, { files: new FileSet([src]) });
    expect(ckpt.tensors.map((t) => t.name)).toEqual(['b', '10', '2']);
    expect(ckpt.metadata).toBeUndefined();
  });
});
