import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FerryError } from '../../src/core/errors.js';
import { safetensorsReader } from '../../src/core/formats/safetensors/index.js';
import { FileSet, MemorySource } from '../../src/core/io/source.js';
import { expectFerry, haveFixtures, HF_TINY } from './safetensors-helpers.js';

const enc = new TextEncoder();

/** A safetensors file from raw header text (not padded) and `data` bytes (or a count of zero bytes). */
function st(header: string, data: number | Uint8Array = 0, declared?: bigint): Uint8Array {
  const h = enc.encode(header);
  const d = typeof data === 'number' ? new Uint8Array(data) : data;
  const b = new Uint8Array(8 + h.length + d.length);
  new DataView(b.buffer).setBigUint64(0, declared ?? BigInt(h.length), true);
  b.set(h, 8);
  b.set(d, 8 + h.length);
  return b;
}

function read(bytes: Uint8Array, name = 'bad.safetensors'): Promise<unknown> {
  const src = new MemorySource(name, bytes);
  return safetensorsReader.read(src, { files: new FileSet([src]) });
}

const E = (dtype: string, shape: number[], a: number, b: number): string => `{"dtype":"${dtype}","shape":${JSON.stringify(shape)},"data_offsets":[${a},${b}]}`;

describe('malformed safetensors → typed errors with file and offset', () => {
  it('file shorter than the 8-byte length', async () => {
    const e = await expectFerry(read(new Uint8Array(5)), 'E_TRUNCATED');
    expect(e.file).toBe('bad.safetensors');
    expect(e.offset).toBe(0);
  });
  it('header length over 100 MB', async () => {
    const e = await expectFerry(read(st('{}', 0, 100_000_001n)), 'E_HEADER_TOO_LARGE');
    expect(e.offset).toBe(0);
    await expectFerry(read(st('{}', 0, 0xffffffffffffffffn)), 'E_HEADER_TOO_LARGE');
  });
  it('header length beyond the file', async () => {
    const e = await expectFerry(read(st('{}', 0, 1000n)), 'E_TRUNCATED');
    expect(e.file).toBe('bad.safetensors');
  });
  it("header not starting with '{'", async () => {
    expect((await expectFerry(read(st(' {}')), 'E_HEADER')).offset).toBe(8);
    await expectFerry(read(st('[]')), 'E_HEADER');
    await expectFerry(read(st('', 0)), 'E_HEADER');
  });
  it('invalid UTF-8 in the header', async () => {
    const b = st('{"a\u00e9":{}}');
    const at = 8 + 3; // the 'é' (2 bytes) after '{"a'
    b[at] = 0xff;
    const e = await expectFerry(read(b), 'E_HEADER');
    expect(e.offset).toBe(at);
  });
  it('invalid JSON', async () => {
    const e = await expectFerry(read(st('{"a": ')), 'E_HEADER');
    expect(e.offset).toBeGreaterThanOrEqual(8);
    await expectFerry(read(st('{"a":1} x')), 'E_HEADER');
  });
  it('__metadata__ must map strings to strings', async () => {
    const e = await expectFerry(read(st('{"__metadata__":{"format":"pt","n":1}}')), 'E_HEADER');
    expect(e.offset).toBe(9);
    await expectFerry(read(st('{"__metadata__":["pt"]}')), 'E_HEADER');
  });
  it('unknown or unsupported dtype', async () => {
    const e = await expectFerry(read(st(`{"x":${E('F128', [1], 0, 16)}}`, 16)), 'E_DTYPE');
    expect(e.tensor).toBe('x');
    expect(e.offset).toBe(9);
    await expectFerry(read(st(`{"x":${E('C128', [1], 0, 16)}}`, 16)), 'E_DTYPE');
    await expectFerry(read(st(`{"x":${E('f32', [1], 0, 4)}}`, 4)), 'E_DTYPE');
  });
  it('missing fields and bad shapes', async () => {
    await expectFerry(read(st('{"x":{"dtype":"F32","data_offsets":[0,4]}}', 4)), 'E_HEADER');
    await expectFerry(read(st('{"x":{"shape":[1],"data_offsets":[0,4]}}', 4)), 'E_HEADER');
    await expectFerry(read(st('{"x":{"dtype":"F32","shape":[1]}}', 4)), 'E_HEADER');
    await expectFerry(read(st('{"x":[1]}', 4)), 'E_HEADER');
    await expectFerry(read(st(`{"x":${E('F32', [-1], 0, 4)}}`, 4)), 'E_HEADER');
    await expectFerry(read(st(`{"x":${E('F32', [1.5], 0, 4)}}`, 4)), 'E_HEADER');
    await expectFerry(read(st('{"x":{"dtype":"F32","shape":["1"],"data_offsets":[0,4]}}', 4)), 'E_HEADER');
  });
  it('bad data_offsets', async () => {
    await expectFerry(read(st(`{"x":${E('F32', [1], 4, 0)}}`, 4)), 'E_OFFSETS');
    await expectFerry(read(st(`{"x":${E('F32', [1], -4, 0)}}`, 4)), 'E_OFFSETS');
    await expectFerry(read(st('{"x":{"dtype":"F32","shape":[1],"data_offsets":[0]}}', 4)), 'E_HEADER');
  });
  it('shape × dtype ≠ byte length', async () => {
    const e = await expectFerry(read(st(`{"x":${E('F32', [2], 0, 4)}}`, 4)), 'E_SHAPE');
    expect(e.tensor).toBe('x');
    // sub-byte dtypes must fill whole bytes
    await expectFerry(read(st(`{"x":${E('F4', [3], 0, 2)}}`, 2)), 'E_SHAPE');
    await expectFerry(read(st(`{"x":${E('F6_E2M3', [2], 0, 2)}}`, 2)), 'E_SHAPE');
    // numel overflow
    await expectFerry(read(st(`{"x":${E('F32', [2 ** 30, 2 ** 30, 2 ** 30], 0, 4)}}`, 4)), 'E_SHAPE');
  });
  it('offsets not starting at 0 (hole)', async () => {
    const h = `{"x":${E('F32', [1], 4, 8)}}`;
    const e = await expectFerry(read(st(h, 8)), 'E_OFFSETS');
    expect(e.tensor).toBe('x');
    expect(e.offset).toBe(8 + enc.encode(h).length);
  });
  it('hole between tensors', async () => {
    const h = `{"a":${E('F32', [1], 0, 4)},"b":${E('F32', [1], 8, 12)}}`;
    const e = await expectFerry(read(st(h, 12)), 'E_OFFSETS');
    expect(e.tensor).toBe('b');
    expect(e.offset).toBe(8 + enc.encode(h).length + 4);
  });
  it('overlapping tensors', async () => {
    const e = await expectFerry(read(st(`{"a":${E('F32', [2], 0, 8)},"b":${E('F32', [1], 4, 8)}}`, 8)), 'E_OFFSETS');
    expect(['a', 'b']).toContain(e.tensor);
    await expectFerry(read(st(`{"a":${E('F32', [1], 0, 4)},"b":${E('F32', [1], 0, 4)}}`, 4)), 'E_OFFSETS');
    // an empty tensor inside another tensor's range
    await expectFerry(read(st(`{"a":${E('F32', [2], 0, 8)},"b":${E('F32', [0], 4, 4)}}`, 8)), 'E_OFFSETS');
  });
  it('trailing bytes not covered by any tensor', async () => {
    const h = `{"a":${E('F32', [1], 0, 4)}}`;
    const e = await expectFerry(read(st(h, 5)), 'E_OFFSETS');
    expect(e.offset).toBe(8 + enc.encode(h).length + 4);
  });
  it('data shorter than declared → E_TRUNCATED', async () => {
    await expectFerry(read(st(`{"a":${E('F32', [2], 0, 8)}}`, 6)), 'E_TRUNCATED');
  });
  it('duplicate tensor names (JSON.parse would keep only the last)', async () => {
    const h = `{"a":${E('F32', [1], 0, 4)},"a":${E('F32', [1], 4, 8)}}`;
    const e = await expectFerry(read(st(h, 8)), 'E_DUPLICATE');
    expect(e.tensor).toBe('a');
    expect(e.offset).toBe(8 + h.lastIndexOf('"a"'));
    // escaped spelling of the same key
    await expectFerry(read(st(`{"a":${E('F32', [1], 0, 4)},"\\u0061":${E('F32', [1], 4, 8)}}`, 8)), 'E_DUPLICATE');
    // duplicate field inside an entry
    await expectFerry(read(st('{"a":{"dtype":"F32","dtype":"F32","shape":[1],"data_offsets":[0,4]}}', 4)), 'E_DUPLICATE');
  });
  it('empty and scalar tensors are valid', async () => {
    const ok = (await read(st(`{"s":${E('F32', [], 0, 4)},"e":${E('F32', [0, 3], 4, 4)}}`, 4))) as { tensors: { name: string }[] };
    expect(ok.tensors.map((t) => t.name)).toEqual(['s', 'e']);
    const empty = (await read(st('{}'))) as { tensors: unknown[] };
    expect(empty.tensors).toEqual([]);
  });
  it('trailing space padding of the header is accepted', async () => {
    const ok = (await read(st(`{"s":${E('U8', [1], 0, 1)}}     `, 1))) as { tensors: unknown[] };
    expect(ok.tensors).toHaveLength(1);
  });
});

describe.skipIf(!haveFixtures)('truncated and corrupted real files → only FerryErrors', () => {
  const real = readFileSync(join(HF_TINY, 'gpt2/model.safetensors'));
  const n = Number(new DataView(real.buffer, real.byteOffset, 8).getBigUint64(0, true));
  it('truncation at many points', async () => {
    const points = [0, 1, 7, 8, 9, 20, Math.floor(n / 2), n, n + 7, n + 8, n + 9, n + 8 + 1000, real.length - 1];
    for (const p of points) {
      let err: unknown;
      try {
        await read(real.subarray(0, p), 'cut.safetensors');
      } catch (e) {
        err = e;
      }
      expect(err, `cut at ${p}`).toBeInstanceOf(FerryError);
      const fe = err as FerryError;
      expect(['E_TRUNCATED', 'E_OFFSETS', 'E_HEADER'], `cut at ${p}: ${fe.message}`).toContain(fe.code);
      expect(fe.file).toBe('cut.safetensors');
      expect(fe.offset).toBeTypeOf('number');
    }
  });
  it('random byte corruption of the header never escapes as a non-FerryError', async () => {
    let seed = 12345;
    const rnd = (): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    for (let k = 0; k < 300; k++) {
      const b = real.slice();
      const flips = 1 + Math.floor(rnd() * 3);
      for (let f = 0; f < flips; f++) b[Math.floor(rnd() * (n + 8))] = Math.floor(rnd() * 256);
      try {
        await read(b, 'fuzz.safetensors');
      } catch (e) {
        expect(e, String(e)).toBeInstanceOf(FerryError);
        expect((e as FerryError).file).toBe('fuzz.safetensors');
      }
    }
  });
});

describe('malformed shard index', () => {
  const shard = (names: string[]): Uint8Array => {
    const entries = names.map((nm, i) => `"${nm}":${E('U8', [1], i, i + 1)}`).join(',');
    return st(`{${entries}}`, names.length);
  };
  const open = (index: string, shards: Record<string, string[]>): Promise<unknown> => {
    const srcs = [new MemorySource('m/model.safetensors.index.json', enc.encode(index))];
    for (const [nm, names] of Object.entries(shards)) srcs.push(new MemorySource(`m/${nm}`, shard(names)));
    const files = new FileSet(srcs);
    return safetensorsReader.read(files.get('m/model.safetensors.index.json')!, { files });
  };
  const idx = (wm: Record<string, string>): string => JSON.stringify({ metadata: { total_size: Object.keys(wm).length }, weight_map: wm });

  it('valid index reads in weight_map order', async () => {
    const c = (await open(idx({ b: 's2', a: 's1', c: 's2' }), { s1: ['a'], s2: ['c', 'b'] })) as { tensors: { name: string }[]; files: string[] };
    expect(c.tensors.map((t) => t.name)).toEqual(['b', 'a', 'c']);
    expect(c.files).toEqual(['m/s1', 'm/s2']);
  });
  it('missing shard → E_MISSING_FILE', async () => {
    const e = await expectFerry(open(idx({ a: 's1', b: 's2' }), { s1: ['a'] }), 'E_MISSING_FILE');
    expect(e.message).toContain('s2');
    expect(e.file).toBe('m/model.safetensors.index.json');
  });
  it('weight_map names a tensor its shard lacks → E_INDEX', async () => {
    const e = await expectFerry(open(idx({ a: 's1', b: 's1' }), { s1: ['a'] }), 'E_INDEX');
    expect(e.tensor).toBe('b');
  });
  it('shard holds a tensor the weight_map does not list → E_INDEX', async () => {
    const e = await expectFerry(open(idx({ a: 's1' }), { s1: ['a', 'z'] }), 'E_INDEX');
    expect(e.tensor).toBe('z');
    expect(e.file).toBe('m/s1');
  });
  it('tensor in the wrong shard → E_INDEX', async () => {
    await expectFerry(open(idx({ a: 's1', b: 's2' }), { s1: ['a', 'b'], s2: ['b'] }), 'E_INDEX');
  });
  it('structure errors', async () => {
    await expectFerry(open('{"weight_map": ', {}), 'E_JSON');
    await expectFerry(open('[]', {}), 'E_INDEX');
    await expectFerry(open('{"metadata": {}}', {}), 'E_INDEX');
    await expectFerry(open('{"weight_map": {"a": 3}}', {}), 'E_INDEX');
    await expectFerry(open('{"weight_map": {"a": "s1", "a": "s1"}}', { s1: ['a'] }), 'E_DUPLICATE');
  });
  it('a broken shard reports the shard file', async () => {
    const srcs = [new MemorySource('model.safetensors.index.json', enc.encode(idx({ a: 's1' }))), new MemorySource('s1', st('{"a": 1', 0))];
    const files = new FileSet(srcs);
    const e = await expectFerry(safetensorsReader.read(files.get('model.safetensors.index.json')!, { files }), 'E_HEADER');
    expect(e.file).toBe('s1');
  });
});
