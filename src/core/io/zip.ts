import { inflateSync } from 'fflate';
import { FerryError } from '../errors.js';
import type { ByteSpan } from '../ir/checkpoint.js';
import { BinaryReader, UTF8 } from './reader.js';
import { MAX_SINGLE_READ } from './source.js';
import type { ByteSource } from './source.js';

/**
 * Zip reader over a ByteSource (PKWARE APPNOTE 6.3): reads the end-of-central-directory record (+ zip64
 * locator/record), the central directory, and each entry's local header only when asked — never the whole file.
 * Stored entries become lazy ByteSpans; deflated entries are inflated on demand into a buffer of exactly the
 * declared uncompressed size.
 */

export const ZIP_LOCAL_MAGIC = 0x04034b50;
const CENTRAL_MAGIC = 0x02014b50;
const EOCD_MAGIC = 0x06054b50;
const ZIP64_LOCATOR_MAGIC = 0x07064b50;
const ZIP64_EOCD_MAGIC = 0x06064b50;
const EOCD_MIN = 22;
const MAX_COMMENT = 0xffff;

export const ZIP_STORED = 0;
export const ZIP_DEFLATED = 8;

/** Largest entry we will inflate into memory. */
export const MAX_INFLATE_BYTES = MAX_SINGLE_READ;
/** Deflate cannot expand data by more than ~1032:1; anything claiming more is lying. */
const MAX_DEFLATE_RATIO = 1032;
/** Entries in one archive (a central directory entry is at least 46 bytes, so the file size bounds it too). */
const MAX_ENTRIES = 1 << 20;

export interface ZipEntry {
  name: string;
  /** 0 = stored, 8 = deflated; anything else is refused when the entry is read. */
  method: number;
  compressedSize: number;
  uncompressedSize: number;
  crc32: number;
  /** Absolute offset of the entry's local file header. */
  localHeaderOffset: number;
  /** General purpose bit flags (bit 0 = encrypted). */
  flags: number;
}

export interface ZipArchive {
  file: string;
  source: ByteSource;
  /** Central directory order. */
  entries: ZipEntry[];
  /** Whether the archive used zip64 records. */
  zip64: boolean;
  get(name: string): ZipEntry | undefined;
}

/** True when `head` starts with a local file header (what every zip writer emits first). */
export function isZipHead(head: Uint8Array): boolean {
  return head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04;
}

/** Name of the first entry, from the first local header in `head` (for sniffing), or undefined. */
export function firstEntryName(head: Uint8Array): string | undefined {
  if (!isZipHead(head) || head.length < 30) return undefined;
  const dv = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const n = dv.getUint16(26, true);
  if (30 + n > head.length) return undefined;
  return UTF8.decode(head.subarray(30, 30 + n));
}

/**
 * Names of the local file headers found in `head` (a file's first bytes), in order. Used for sniffing only:
 * it scans for local header signatures, so it also finds entries after small records of unknown size.
 */
export function localNamesInHead(head: Uint8Array, max = 16): string[] {
  const out: string[] = [];
  if (!isZipHead(head)) return out;
  const dv = new DataView(head.buffer, head.byteOffset, head.byteLength);
  for (let i = 0; i + 30 <= head.length && out.length < max; i++) {
    if (head[i] !== 0x50 || dv.getUint32(i, true) !== ZIP_LOCAL_MAGIC) continue;
    const n = dv.getUint16(i + 26, true);
    if (i + 30 + n > head.length) break;
    out.push(UTF8.decode(head.subarray(i + 30, i + 30 + n)));
    i += 29 + n;
  }
  return out;
}

export async function openZip(src: ByteSource): Promise<ZipArchive> {
  const file = src.name;
  if (src.size < EOCD_MIN) throw new FerryError('E_TRUNCATED', `${src.size} bytes is too small for a zip archive`, { file, offset: 0 });
  const tailLen = Math.min(src.size, EOCD_MIN + MAX_COMMENT);
  const tailStart = src.size - tailLen;
  const tail = await src.read(tailStart, tailLen);
  const tv = new DataView(tail.buffer, tail.byteOffset, tail.byteLength);
  let eocd = -1;
  for (let i = tail.length - EOCD_MIN; i >= 0; i--) {
    if (tv.getUint32(i, true) === EOCD_MAGIC) {
      // the comment must run exactly to the end of the file
      const commentLen = tv.getUint16(i + 20, true);
      if (i + EOCD_MIN + commentLen === tail.length) {
        eocd = i;
        break;
      }
    }
  }
  if (eocd < 0) {
    const start = await src.read(0, 4);
    if (!isZipHead(start)) throw new FerryError('E_BAD_MAGIC', 'not a zip archive (no PK signature)', { file, offset: 0 });
    throw new FerryError('E_TRUNCATED', 'no end-of-central-directory record: the zip archive is truncated', { file, offset: src.size });
  }
  const r = new BinaryReader(tail, file, tailStart);
  r.seek(eocd + 4);
  const disk = r.u16();
  const cdDisk = r.u16();
  r.u16(); // entries on this disk
  let count = r.u16();
  let cdSize = r.u32();
  let cdOffset = r.u32();
  let zip64 = false;
  const eocdAbs = tailStart + eocd;
  if (disk !== 0 || cdDisk !== 0) throw new FerryError('E_UNSUPPORTED', 'multi-disk (split) zip archives are not supported', { file, offset: eocdAbs });

  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    // zip64: locator right before the EOCD
    const locAt = eocdAbs - 20;
    if (locAt < 0) throw new FerryError('E_ZIP', 'zip64 values without a zip64 locator', { file, offset: eocdAbs });
    const loc = new BinaryReader(await src.read(locAt, 20), file, locAt);
    if (loc.u32() !== ZIP64_LOCATOR_MAGIC) throw new FerryError('E_ZIP', 'zip64 values without a zip64 locator', { file, offset: locAt });
    loc.u32(); // disk with zip64 EOCD
    const recAt = loc.u64();
    if (recAt + 56 > locAt) throw new FerryError('E_ZIP', `zip64 end-of-central-directory offset ${recAt} is out of range`, { file, offset: locAt + 8 });
    const rec = new BinaryReader(await src.read(recAt, 56), file, recAt);
    if (rec.u32() !== ZIP64_EOCD_MAGIC) throw new FerryError('E_ZIP', 'bad zip64 end-of-central-directory signature', { file, offset: recAt });
    rec.skip(8 + 2 + 2 + 4 + 4 + 8); // record size, versions, disk numbers, entries on disk
    count = rec.u64();
    cdSize = rec.u64();
    cdOffset = rec.u64();
    zip64 = true;
  }
  if (cdOffset + cdSize > src.size) {
    throw new FerryError('E_TRUNCATED', `central directory [${cdOffset}, +${cdSize}) lies past the end of the file (${src.size} bytes)`, { file, offset: eocdAbs });
  }
  if (count > MAX_ENTRIES || count * 46 > cdSize) {
    throw new FerryError('E_ZIP', `${count} entries cannot fit a ${cdSize}-byte central directory`, { file, offset: eocdAbs });
  }
  const cd = new BinaryReader(await src.read(cdOffset, cdSize), file, cdOffset);
  const entries: ZipEntry[] = [];
  const byName = new Map<string, ZipEntry>();
  for (let i = 0; i < count; i++) {
    const at = cd.pos;
    if (cd.u32() !== CENTRAL_MAGIC) cd.fail('E_ZIP', `central directory entry ${i}: bad signature`, at);
    cd.skip(4); // versions
    const flags = cd.u16();
    const method = cd.u16();
    cd.skip(4); // time, date
    const crc32 = cd.u32();
    let compressedSize = cd.u32();
    let uncompressedSize = cd.u32();
    const nameLen = cd.u16();
    const extraLen = cd.u16();
    const commentLen = cd.u16();
    cd.skip(2 + 2 + 4); // disk start, internal attrs, external attrs
    let localHeaderOffset = cd.u32();
    const nameBytes = cd.bytesView(nameLen);
    const name = UTF8.decode(nameBytes);
    const extra = new BinaryReader(cd.bytesView(extraLen), file, cd.base + cd.pos - extraLen);
    cd.skip(commentLen);
    if (uncompressedSize === 0xffffffff || compressedSize === 0xffffffff || localHeaderOffset === 0xffffffff) {
      let found = false;
      while (extra.remaining >= 4) {
        const id = extra.u16();
        const size = extra.u16();
        const end = extra.pos + size;
        if (end > extra.length) extra.fail('E_ZIP', `entry '${name}': extra field overruns its block`);
        if (id === 0x0001) {
          found = true;
          if (uncompressedSize === 0xffffffff) uncompressedSize = extra.u64();
          if (compressedSize === 0xffffffff) compressedSize = extra.u64();
          if (localHeaderOffset === 0xffffffff) localHeaderOffset = extra.u64();
        }
        extra.seek(end);
      }
      if (!found) cd.fail('E_ZIP', `entry '${name}' has 0xFFFFFFFF sizes but no zip64 extra field`, at);
      zip64 = true;
    }
    if (localHeaderOffset + 30 > cdOffset || localHeaderOffset + 30 + compressedSize > src.size) {
      throw new FerryError('E_ZIP', `entry '${name}' [${localHeaderOffset}, +${compressedSize}) lies outside the archive data`, { file, offset: cd.base + at });
    }
    const e: ZipEntry = { name, method, compressedSize, uncompressedSize, crc32, localHeaderOffset, flags };
    if (byName.has(name)) throw new FerryError('E_DUPLICATE', `zip entry '${name}' appears twice`, { file, offset: cd.base + at });
    byName.set(name, e);
    entries.push(e);
  }
  return { file, source: src, entries, zip64, get: (n: string) => byName.get(n) };
}

/** Absolute offset of the entry's (possibly compressed) data: reads its local header. */
export async function zipDataOffset(zip: ZipArchive, e: ZipEntry): Promise<number> {
  const src = zip.source;
  const at = e.localHeaderOffset;
  const h = new BinaryReader(await src.read(at, 30), zip.file, at);
  if (h.u32() !== ZIP_LOCAL_MAGIC) h.fail('E_ZIP', `entry '${e.name}': bad local header signature`, 0);
  h.seek(26);
  const n = h.u16();
  const m = h.u16();
  const start = at + 30 + n + m;
  if (start + e.compressedSize > src.size) {
    throw new FerryError('E_TRUNCATED', `entry '${e.name}' data [${start}, +${e.compressedSize}) runs past the end of the file (${src.size} bytes)`, {
      file: zip.file,
      offset: at,
    });
  }
  return start;
}

function checkReadable(zip: ZipArchive, e: ZipEntry): void {
  if (e.flags & 1) throw new FerryError('E_UNSUPPORTED', `entry '${e.name}' is encrypted`, { file: zip.file, offset: e.localHeaderOffset });
  if (e.method !== ZIP_STORED && e.method !== ZIP_DEFLATED) {
    throw new FerryError('E_UNSUPPORTED', `entry '${e.name}' uses compression method ${e.method} (only stored and deflate are supported)`, {
      file: zip.file,
      offset: e.localHeaderOffset,
    });
  }
  if (e.method === ZIP_STORED && e.compressedSize !== e.uncompressedSize) {
    throw new FerryError('E_ZIP', `stored entry '${e.name}' declares ${e.compressedSize} stored but ${e.uncompressedSize} uncompressed bytes`, {
      file: zip.file,
      offset: e.localHeaderOffset,
    });
  }
}

/** Lazy span of a stored entry's bytes. Throws E_UNSUPPORTED for compressed entries (use readZipEntry). */
export async function zipEntrySpan(zip: ZipArchive, e: ZipEntry): Promise<ByteSpan> {
  checkReadable(zip, e);
  if (e.method !== ZIP_STORED) {
    throw new FerryError('E_UNSUPPORTED', `entry '${e.name}' is compressed; it has no byte span in the file`, { file: zip.file, offset: e.localHeaderOffset });
  }
  return { file: zip.file, offset: await zipDataOffset(zip, e), length: e.uncompressedSize };
}

/** The entry's uncompressed bytes (stored: read; deflated: inflated into exactly `uncompressedSize` bytes). */
export async function readZipEntry(zip: ZipArchive, e: ZipEntry, limit = MAX_INFLATE_BYTES): Promise<Uint8Array> {
  checkReadable(zip, e);
  const where = { file: zip.file, offset: e.localHeaderOffset };
  if (e.uncompressedSize > limit) {
    throw new FerryError('E_LIMIT', `entry '${e.name}' is ${e.uncompressedSize} bytes, over the ${limit}-byte limit`, where);
  }
  const start = await zipDataOffset(zip, e);
  const raw = await zip.source.read(start, e.compressedSize);
  if (e.method === ZIP_STORED) return raw;
  if (e.uncompressedSize > e.compressedSize * MAX_DEFLATE_RATIO + 1024) {
    throw new FerryError('E_ZIP', `entry '${e.name}' claims ${e.uncompressedSize} bytes from ${e.compressedSize} deflated bytes (impossible ratio)`, where);
  }
  // One spare byte: fflate silently stops at the end of a caller-provided buffer, so a stream longer than
  // declared would otherwise go unnoticed.
  const out = new Uint8Array(e.uncompressedSize + 1);
  let got: Uint8Array;
  try {
    got = inflateSync(raw, { out });
  } catch (err) {
    throw new FerryError('E_ZIP', `entry '${e.name}': corrupt deflate stream (${(err as Error).message})`, { file: zip.file, offset: start });
  }
  if (got.byteLength !== e.uncompressedSize) {
    throw new FerryError('E_ZIP', `entry '${e.name}' inflates to ${got.byteLength} bytes but declares ${e.uncompressedSize}`, { file: zip.file, offset: start });
  }
  got = got.subarray(0, e.uncompressedSize);
  if (crc32(got) !== e.crc32) {
    throw new FerryError('E_ZIP', `entry '${e.name}': CRC-32 mismatch after inflating`, { file: zip.file, offset: start });
  }
  return got;
}

let CRC_TABLE: Uint32Array | undefined;

export function crc32(b: Uint8Array): number {
  if (!CRC_TABLE) {
    CRC_TABLE = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      CRC_TABLE[n] = c >>> 0;
    }
  }
  const t = CRC_TABLE;
  let c = 0xffffffff;
  for (let i = 0; i < b.length; i++) c = (t[(c ^ (b[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
