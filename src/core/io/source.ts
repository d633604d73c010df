import { FerryError } from '../errors.js';

/**
 * A random-access, read-only byte source: a File/Blob slice in the browser, a file on disk in Node,
 * or bytes in memory (tests, small derived files). Reads are bounds-checked and never modify the source.
 */
export interface ByteSource {
  /** Path relative to the dropped folder / CLI argument root, using '/' separators. */
  readonly name: string;
  readonly size: number;
  /** Read exactly `length` bytes at `offset`. Throws E_TRUNCATED if the range is outside the source. */
  read(offset: number, length: number): Promise<Uint8Array>;
}

/** Largest single read we ever issue; bigger tensors are read in chunks by their consumers. */
export const MAX_SINGLE_READ = 1 << 30; // 1 GiB

export function checkRange(src: { name: string; size: number }, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
    throw new FerryError('E_OFFSETS', `invalid byte range [${offset}, +${length})`, { file: src.name, offset });
  }
  if (offset + length > src.size) {
    throw new FerryError(
      'E_TRUNCATED',
      `needs bytes up to ${offset + length} but the file has ${src.size}`,
      { file: src.name, offset: Math.min(offset, src.size) },
    );
  }
  if (length > MAX_SINGLE_READ) {
    throw new FerryError('E_LIMIT', `single read of ${length} bytes exceeds ${MAX_SINGLE_READ}`, { file: src.name, offset });
  }
}

export class MemorySource implements ByteSource {
  readonly size: number;
  constructor(
    readonly name: string,
    private readonly bytes: Uint8Array,
  ) {
    this.size = bytes.byteLength;
  }
  // async so that range errors reject (like every other source) rather than throw synchronously
  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this, offset, length);
    return this.bytes.subarray(offset, offset + length);
  }
}

/** Blob/File-backed source (browser, workers; also Node ≥ 20 Blobs). Only the requested slice is read. */
export class BlobSource implements ByteSource {
  readonly size: number;
  constructor(
    readonly name: string,
    private readonly blob: Blob,
  ) {
    this.size = blob.size;
  }
  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this, offset, length);
    const buf = await this.blob.slice(offset, offset + length).arrayBuffer();
    return new Uint8Array(buf);
  }
}

/**
 * A set of files addressed by relative path — what the user dropped (a folder, or several files)
 * or what the CLI was given. Readers use it to find sibling files (shards, external data, weight files).
 */
export class FileSet {
  private readonly byPath = new Map<string, ByteSource>();

  constructor(sources: Iterable<ByteSource>) {
    for (const s of sources) this.byPath.set(normalizePath(s.name), s);
  }

  get paths(): string[] {
    return [...this.byPath.keys()].sort();
  }

  get sources(): ByteSource[] {
    return this.paths.map((p) => this.byPath.get(p) as ByteSource);
  }

  has(path: string): boolean {
    return this.byPath.has(normalizePath(path));
  }

  /** Exact path. */
  get(path: string): ByteSource | undefined {
    return this.byPath.get(normalizePath(path));
  }

  /** Resolve `ref` relative to the directory of `from` (how index.json / model.json name their siblings). */
  resolve(from: string, ref: string): ByteSource | undefined {
    return this.get(joinPath(dirname(from), ref));
  }

  /** Like resolve, but throws E_MISSING_FILE naming what was expected. */
  require(from: string, ref: string): ByteSource {
    const s = this.resolve(from, ref);
    if (!s) {
      throw new FerryError('E_MISSING_FILE', `'${ref}' is referenced but was not provided; add it next to ${from}`, {
        file: from,
      });
    }
    return s;
  }
}

export function normalizePath(p: string): string {
  const parts: string[] = [];
  for (const seg of p.replace(/\\/g, '/').split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') parts.pop();
    else parts.push(seg);
  }
  return parts.join('/');
}

export function dirname(p: string): string {
  const n = normalizePath(p);
  const i = n.lastIndexOf('/');
  return i < 0 ? '' : n.slice(0, i);
}

export function basename(p: string): string {
  const n = normalizePath(p);
  return n.slice(n.lastIndexOf('/') + 1);
}

export function joinPath(dir: string, ref: string): string {
  return normalizePath(dir ? `${dir}/${ref}` : ref);
}

/** Read a whole (small) source as UTF-8 text, refusing anything over `limit` bytes. */
export async function readText(src: ByteSource, limit = 64 << 20): Promise<string> {
  if (src.size > limit) {
    throw new FerryError('E_LIMIT', `text file is ${src.size} bytes, over the ${limit}-byte limit`, { file: src.name });
  }
  const bytes = await src.read(0, src.size);
  return new TextDecoder('utf-8', { fatal: false }).decode(bytes);
}

/** Parse a small JSON file with a typed error. */
export async function readJson(src: ByteSource, limit = 64 << 20): Promise<unknown> {
  const text = await readText(src, limit);
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new FerryError('E_JSON', `invalid JSON: ${(e as Error).message}`, { file: src.name });
  }
}
