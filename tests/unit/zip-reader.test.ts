import { describe, expect, it } from 'vitest';
import { deflateSync, zipSync } from 'fflate';
import { crc32, openZip, readZipEntry, zipEntrySpan, localNamesInHead } from '../../src/core/io/zip.js';
import { FerryError } from '../../src/core/errors.js';
import { MemorySource } from '../../src/core/io/source.js';

interface E {
  name: string;
  data: Uint8Array;
  deflate?: boolean;
  /** lie about the uncompressed size */
  declared?: number;
}

/** Minimal zip writer (stored / deflate), optionally with zip64 records for every size and offset. */
function makeZip(entries: E[], zip64 = false): Uint8Array {
  const parts: number[] = [];
  const u16 = (v: number) => parts.push(v & 0xff, (v >>> 8) & 0xff);
  const u32 = (v: number) => {
    u16(v & 0xffff);
    u16((v >>> 16) & 0xffff);
  };
  const u64 = (v: number) => {
    u32(v % 2 ** 32);
    u32(Math.floor(v / 2 ** 32));
  };
  const bytes = (b: Uint8Array) => parts.push(...b);
  const central: { e: E; off: number; comp: Uint8Array; crc: number }[] = [];
  for (const e of entries) {
    const comp = e.deflate ? deflateSync(e.data) : e.data;
    const crc = crc32(e.data);
    const off = parts.length;
    const name = new TextEncoder().encode(e.name);
    u32(0x04034b50); u16(45); u16(0); u16(e.deflate ? 8 : 0); u16(0); u16(0); u32(crc);
    u32(comp.length); u32(e.declared ?? e.data.length); u16(name.length); u16(0);
    bytes(name);
    bytes(comp);
    central.push({ e, off, comp, crc });
  }
  const cdStart = parts.length;
  for (const { e, off, comp, crc } of central) {
    const name = new TextEncoder().encode(e.name);
    u32(0x02014b50); u16(45); u16(45); u16(0); u16(e.deflate ? 8 : 0); u16(0); u16(0); u32(crc);
    u32(zip64 ? 0xffffffff : comp.length); u32(zip64 ? 0xffffffff : (e.declared ?? e.data.length));
    u16(name.length); u16(zip64 ? 28 : 0); u16(0); u16(0); u16(0); u32(0); u32(zip64 ? 0xffffffff : off);
    bytes(name);
    if (zip64) {
      u16(1); u16(24); u64(e.declared ?? e.data.length); u64(comp.length); u64(off);
    }
  }
  const cdSize = parts.length - cdStart;
  if (zip64) {
    const rec = parts.length;
    u32(0x06064b50); u64(44); u16(45); u16(45); u32(0); u32(0); u64(entries.length); u64(entries.length); u64(cdSize); u64(cdStart);
    u32(0x07064b50); u32(0); u64(rec); u32(1);
  }
  u32(0x06054b50); u16(0); u16(0);
  u16(zip64 ? 0xffff : entries.length); u16(zip64 ? 0xffff : entries.length);
  u32(zip64 ? 0xffffffff : cdSize); u32(zip64 ? 0xffffffff : cdStart); u16(0);
  return new Uint8Array(parts);
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

const A = new TextEncoder().encode('hello hello hello hello');
const B = new Uint8Array(1000).map((_, i) => i % 7);

describe('zip reader', () => {
  for (const zip64 of [false, true]) {
    it(`stored + deflated entries${zip64 ? ' (zip64 records)' : ''}`, async () => {
      const bytes = makeZip([{ name: 'dir/a.txt', data: A }, { name: 'b.bin', data: B, deflate: true }], zip64);
      const zip = await openZip(new MemorySource('t.zip', bytes));
      expect(zip.zip64).toBe(zip64);
      expect(zip.entries.map((e) => [e.name, e.method, e.uncompressedSize])).toEqual([['dir/a.txt', 0, A.length], ['b.bin', 8, B.length]]);
      const span = await zipEntrySpan(zip, zip.get('dir/a.txt')!);
      expect(bytes.subarray(span.offset, span.offset + span.length)).toEqual(A);
      expect(await readZipEntry(zip, zip.get('b.bin')!)).toEqual(B);
      await expect(zipEntrySpan(zip, zip.get('b.bin')!)).rejects.toThrow(/compressed/);
    });
  }

  it('reads zips written by fflate (data descriptors / extra fields)', async () => {
    const bytes = zipSync({ 'x/data.pkl': [A, { level: 0 }], 'x/data/0': [B, { level: 9 }] });
    const zip = await openZip(new MemorySource('f.zip', bytes));
    expect(await readZipEntry(zip, zip.get('x/data/0')!)).toEqual(B);
    expect(localNamesInHead(bytes.subarray(0, 4096))).toContain('x/data.pkl');
  });

  it('deflated entry whose declared size is wrong → E_ZIP', async () => {
    for (const declared of [B.length - 1, B.length + 1]) {
      const zip = await openZip(new MemorySource('t.zip', makeZip([{ name: 'b', data: B, deflate: true, declared }])));
      const e = await ferr(readZipEntry(zip, zip.get('b')!));
      expect(e.code).toBe('E_ZIP');
      expect(e.offset).toBeTypeOf('number');
    }
  });

  it('deflated entry claiming an impossible ratio is refused before allocating', async () => {
    const zip = await openZip(new MemorySource('t.zip', makeZip([{ name: 'b', data: B, deflate: true, declared: 900_000_000 }])));
    const e = await ferr(readZipEntry(zip, zip.get('b')!));
    expect(e.code).toBe('E_ZIP');
    expect(e.detail).toMatch(/ratio/);
  });

  it('CRC mismatch → E_ZIP', async () => {
    const bytes = makeZip([{ name: 'b', data: B, deflate: true }]);
    // flip the CRC in the central directory
    const cd = bytes.findLastIndex((_, i) => bytes[i] === 0x50 && bytes[i + 1] === 0x4b && bytes[i + 2] === 1 && bytes[i + 3] === 2);
    bytes[cd + 16] = (bytes[cd + 16] as number) ^ 0xff;
    const zip = await openZip(new MemorySource('t.zip', bytes));
    expect((await ferr(readZipEntry(zip, zip.get('b')!))).code).toBe('E_ZIP');
  });

  it('not a zip / truncated tail', async () => {
    expect((await ferr(openZip(new MemorySource('n.zip', new Uint8Array(100))))).code).toBe('E_BAD_MAGIC');
    const bytes = makeZip([{ name: 'a', data: A }]);
    const e = await ferr(openZip(new MemorySource('t.zip', bytes.subarray(0, bytes.length - 5))));
    expect(e.code).toBe('E_TRUNCATED');
    expect(e.file).toBe('t.zip');
  });

  it('entry pointing past the end → E_ZIP with the central directory offset', async () => {
    const bytes = makeZip([{ name: 'a', data: A }]);
    const cd = bytes.findLastIndex((_, i) => bytes[i] === 0x50 && bytes[i + 1] === 0x4b && bytes[i + 2] === 1 && bytes[i + 3] === 2);
    bytes[cd + 42] = 0xf0; // local header offset
    const e = await ferr(openZip(new MemorySource('t.zip', bytes)));
    expect(e.code).toBe('E_ZIP');
    expect(e.offset).toBe(cd);
  });

  it('count larger than the central directory can hold → E_ZIP', async () => {
    const bytes = makeZip([{ name: 'a', data: A }]);
    bytes[bytes.length - 12] = 0xff; // total entries
    bytes[bytes.length - 11] = 0x7f;
    expect((await ferr(openZip(new MemorySource('t.zip', bytes)))).code).toBe('E_ZIP');
  });
});
