import { FerryError, throwIfAborted } from '../../errors.js';
import type { ByteSink, SinkFactory } from '../../io/sink.js';
import type { DType } from '../../ir/dtype.js';
import { expectedBytes } from './header.js';

/**
 * Streaming safetensors writer. The header is computed up front from dtypes and shapes, then every
 * tensor's bytes are pulled from its chunk iterator and written straight to the sink: at most one
 * chunk (at most one tensor for non-streamable sources) is in memory at a time.
 */

export interface TensorSpec {
  name: string;
  dtype: DType;
  shape: number[];
}

export interface WritableTensor extends TensorSpec {
  /** Produces the tensor's contiguous little-endian bytes, in order; called once, when the tensor is written. */
  chunks: () => AsyncIterable<Uint8Array>;
}

export interface ShardPlan {
  /** Output file name. */
  name: string;
  /** Indices into the tensor list, in output order. */
  tensors: number[];
  /** Tensor bytes in this shard. */
  bytes: number;
}

export interface WriteProgress {
  /** Tensor data bytes written so far / in total (headers excluded). */
  bytesDone: number;
  bytesTotal: number;
  tensorsDone: number;
  tensorsTotal: number;
  tensor: string;
  file: string;
}

export interface WriteOptions {
  metadata?: Record<string, string> | undefined;
  /** Bytes per shard (HF `max_shard_size`); undefined = one `model.safetensors`. */
  maxShardSize?: number | undefined;
  signal?: AbortSignal | undefined;
  /** Called after every chunk written. */
  onProgress?: ((p: WriteProgress) => void) | undefined;
}

export interface WriteResult {
  files: { name: string; bytes: number }[];
  /** Tensor data bytes (excluding headers and the index), like the index's total_size. */
  totalBytes: number;
}

export const SINGLE_FILE_NAME = 'model.safetensors';
export const INDEX_FILE_NAME = 'model.safetensors.index.json';

/** Byte length of a tensor spec; E_SHAPE when dtype×shape is not a whole number of bytes. */
export function specByteLength(t: TensorSpec): number {
  const n = expectedBytes(t.dtype, t.shape);
  if (n === undefined) {
    throw new FerryError('E_SHAPE', `${t.dtype}${JSON.stringify(t.shape)} is not a whole number of bytes`, { tensor: t.name });
  }
  return n;
}

/**
 * The complete header block: 8-byte LE length, compact JSON with `__metadata__` first (when given) and the
 * tensors in the given order with consecutive data_offsets, padded with spaces to a multiple of 8.
 */
export function encodeSafetensorsHeader(tensors: readonly TensorSpec[], metadata?: Record<string, string>): Uint8Array {
  // Build the JSON text by hand: object key order must be exactly ours (integer-like names would be
  // reordered by a JS object), and names may collide with nothing but each other.
  const parts: string[] = [];
  if (metadata !== undefined) {
    const m: string[] = [];
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new FerryError('E_ARGUMENT', `metadata['${k}'] must be a string`);
      m.push(`${JSON.stringify(k)}:${JSON.stringify(v)}`);
    }
    parts.push(`"__metadata__":{${m.join(',')}}`);
  }
  const seen = new Set<string>();
  let offset = 0;
  for (const t of tensors) {
    if (t.name === '__metadata__') throw new FerryError('E_ARGUMENT', "a tensor cannot be named '__metadata__'", { tensor: t.name });
    if (seen.has(t.name)) throw new FerryError('E_DUPLICATE', `tensor '${t.name}' is written twice`, { tensor: t.name });
    seen.add(t.name);
    const len = specByteLength(t);
    parts.push(`${JSON.stringify(t.name)}:{"dtype":${JSON.stringify(t.dtype)},"shape":${JSON.stringify(t.shape)},"data_offsets":[${offset},${offset + len}]}`);
    offset += len;
  }
  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  const padded = Math.ceil(json.byteLength / 8) * 8;
  const out = new Uint8Array(8 + padded);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.byteLength);
  return out;
}

/**
 * Split tensors into shards exactly as huggingface_hub's `split_torch_state_dict_into_shards` (used by
 * transformers' save_pretrained): walk the tensors in order; a tensor bigger than the limit gets a shard
 * of its own (appended immediately); otherwise a new shard starts when adding the tensor would exceed
 * the limit. Shards are named model-0000i-of-0000N.safetensors; one shard = model.safetensors.
 */
export function planShards(sizes: readonly number[], maxShardSize?: number): ShardPlan[] {
  if (maxShardSize === undefined) {
    return [{ name: SINGLE_FILE_NAME, tensors: sizes.map((_, i) => i), bytes: sizes.reduce((a, b) => a + b, 0) }];
  }
  if (!Number.isSafeInteger(maxShardSize) || maxShardSize <= 0) {
    throw new FerryError('E_ARGUMENT', `maxShardSize must be a positive integer number of bytes, got ${maxShardSize}`);
  }
  const shards: { tensors: number[]; bytes: number }[] = [];
  let current: { tensors: number[]; bytes: number } = { tensors: [], bytes: 0 };
  sizes.forEach((size, i) => {
    if (size > maxShardSize) {
      shards.push({ tensors: [i], bytes: size });
      return;
    }
    if (current.bytes + size > maxShardSize) {
      shards.push(current);
      current = { tensors: [], bytes: 0 };
    }
    current.tensors.push(i);
    current.bytes += size;
  });
  if (current.tensors.length > 0) shards.push(current);
  if (shards.length <= 1) {
    return [{ name: SINGLE_FILE_NAME, tensors: shards[0]?.tensors ?? [], bytes: shards[0]?.bytes ?? 0 }];
  }
  const n = String(shards.length).padStart(5, '0');
  return shards.map((s, i) => ({ name: `model-${String(i + 1).padStart(5, '0')}-of-${n}.safetensors`, ...s }));
}

/**
 * The index file as transformers writes it: `json.dumps(index, indent=2, sort_keys=True) + "\n"` of
 * {"metadata": {"total_size": N}, "weight_map": {name: shard}} (Python's ensure_ascii escaping included).
 */
export function encodeShardIndex(totalSize: number, weightMap: ReadonlyMap<string, string> | Record<string, string>): string {
  const entries = weightMap instanceof Map ? [...weightMap.entries()] : Object.entries(weightMap);
  entries.sort((a, b) => comparePython(a[0], b[0]));
  const lines = entries.map(([k, v], i) => `    ${pyString(k)}: ${pyString(v)}${i < entries.length - 1 ? ',' : ''}`);
  const wm = entries.length ? `{\n${lines.join('\n')}\n  }` : '{}';
  return `{\n  "metadata": {\n    "total_size": ${totalSize}\n  },\n  "weight_map": ${wm}\n}\n`;
}

/** Python str ordering: by code point (JS `<` compares UTF-16 code units, which differs above U+FFFF). */
function comparePython(a: string, b: string): number {
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next();
    const y = ib.next();
    if (x.done || y.done) return x.done ? (y.done ? 0 : -1) : 1;
    const cx = x.value.codePointAt(0) as number;
    const cy = y.value.codePointAt(0) as number;
    if (cx !== cy) return cx - cy;
  }
}

/** json.dumps string with ensure_ascii=True. */
function pyString(s: string): string {
  return JSON.stringify(s).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Write one safetensors file: header, then each tensor's chunks, checking every tensor's length. */
async function writeFile(
  sink: ByteSink,
  tensors: readonly WritableTensor[],
  metadata: Record<string, string> | undefined,
  onChunk: (t: WritableTensor, bytes: number, tensorDone: boolean) => void,
  signal: AbortSignal | undefined,
): Promise<void> {
  await sink.write(encodeSafetensorsHeader(tensors, metadata));
  for (const t of tensors) {
    throwIfAborted(signal, { tensor: t.name, file: sink.name });
    const expected = specByteLength(t);
    let written = 0;
    let reported = false;
    for await (const chunk of t.chunks()) {
      throwIfAborted(signal, { tensor: t.name, file: sink.name });
      written += chunk.byteLength;
      if (written > expected) break;
      if (chunk.byteLength > 0) await sink.write(chunk);
      const done = !reported && written === expected;
      if (done) reported = true;
      onChunk(t, chunk.byteLength, done);
    }
    if (written !== expected) {
      throw new FerryError('E_INTERNAL', `tensor produced ${written} bytes but ${t.dtype}${JSON.stringify(t.shape)} needs ${expected}`, {
        tensor: t.name,
        file: sink.name,
      });
    }
    if (!reported) onChunk(t, 0, true);
  }
}

/**
 * Write tensors as safetensors: one `model.safetensors`, or shards + `model.safetensors.index.json`
 * when `maxShardSize` splits them. Sinks are closed on success and on failure (including cancellation).
 */
export async function writeSafetensors(tensors: readonly WritableTensor[], sinks: SinkFactory, opts: WriteOptions = {}): Promise<WriteResult> {
  const sizes = tensors.map(specByteLength);
  const names = new Set<string>();
  for (const t of tensors) {
    if (names.has(t.name)) throw new FerryError('E_DUPLICATE', `tensor '${t.name}' is written twice`, { tensor: t.name });
    names.add(t.name);
  }
  const plan = planShards(sizes, opts.maxShardSize);
  const bytesTotal = sizes.reduce((a, b) => a + b, 0);
  const progress: WriteProgress = { bytesDone: 0, bytesTotal, tensorsDone: 0, tensorsTotal: tensors.length, tensor: '', file: '' };
  const files: { name: string; bytes: number }[] = [];
  for (const shard of plan) {
    throwIfAborted(opts.signal, { file: shard.name });
    const sink = await sinks(shard.name);
    try {
      const list = shard.tensors.map((i) => tensors[i] as WritableTensor);
      await writeFile(
        sink,
        list,
        opts.metadata,
        (t, bytes, tensorDone) => {
          progress.bytesDone += bytes;
          if (tensorDone) progress.tensorsDone++;
          progress.tensor = t.name;
          progress.file = shard.name;
          opts.onProgress?.({ ...progress });
        },
        opts.signal,
      );
    } catch (e) {
      await sink.close().catch(() => undefined);
      throw e;
    }
    await sink.close();
    files.push({ name: shard.name, bytes: sink.bytesWritten });
  }
  if (plan.length > 1) {
    const weightMap = new Map<string, string>();
    for (const shard of plan) for (const i of shard.tensors) weightMap.set((tensors[i] as WritableTensor).name, shard.name);
    const bytes = new TextEncoder().encode(encodeShardIndex(bytesTotal, weightMap));
    const sink = await sinks(INDEX_FILE_NAME);
    try {
      await sink.write(bytes);
    } finally {
      await sink.close();
    }
    files.push({ name: INDEX_FILE_NAME, bytes: bytes.byteLength });
  }
  return { files, totalBytes: bytesTotal };
}
