import { FerryError, throwIfAborted, toFerryError } from '../errors.js';
import type { FileSet } from '../io/source.js';
import type { SinkFactory } from '../io/sink.js';
import type { Checkpoint, TensorRef } from '../ir/checkpoint.js';
import type { CastDType, DType } from '../ir/dtype.js';
import { readTensorChunks } from '../ir/materialize.js';
import { castFloatBytes } from './precision/float.js';
import type { FloatDType } from './precision/float.js';
import { dedupeTied } from './tied.js';
import { writeSafetensors } from '../formats/safetensors/write.js';
import type { WritableTensor } from '../formats/safetensors/write.js';

export interface ConvertOptions {
  /** Cast floating tensors (F32/F16/BF16/F64) to this dtype; undefined = keep every dtype. */
  dtype?: CastDType | undefined;
  /** Bytes per shard (transformers' max_shard_size semantics); undefined = a single model.safetensors. */
  maxShardSize?: number | undefined;
  /** `__metadata__` of every output file; default {format: 'pt'}. Removed tied names are added to it. */
  metadata?: Record<string, string> | undefined;
  signal?: AbortSignal | undefined;
  onProgress?: ((p: ConvertProgress) => void) | undefined;
  /** Read/write granularity in bytes (default 16 MiB); progress and cancellation are checked per chunk. */
  chunkBytes?: number | undefined;
}

export interface ConvertProgress {
  /** Output tensor bytes written so far / in total (file headers excluded). */
  bytesDone: number;
  bytesTotal: number;
  tensorsDone: number;
  tensorsTotal: number;
  /** Tensor being written. */
  tensor: string;
  /** Output file being written. */
  file: string;
}

export interface ConvertResult {
  files: { name: string; bytes: number }[];
  /** Tensors written (tied duplicates removed). */
  tensors: number;
  /** Tensor data bytes written (the index's total_size). */
  totalBytes: number;
  /** removed tied name → kept name (also in every output file's __metadata__). */
  aliases: Record<string, string>;
  warnings: string[];
}

const CASTABLE_SOURCES: ReadonlySet<DType> = new Set<DType>(['F32', 'F16', 'BF16', 'F64']);

/** The dtype a tensor is written as. */
export function targetDType(dtype: DType, cast: CastDType | undefined): DType {
  return cast !== undefined && CASTABLE_SOURCES.has(dtype) ? cast : dtype;
}

/**
 * Convert any checkpoint to safetensors, streaming: headers first, then each tensor's bytes chunk by chunk
 * through the cast into the sinks. Output order is the checkpoint's order; tied tensors are written once.
 */
export async function convertToSafetensors(ckpt: Checkpoint, files: FileSet, sinks: SinkFactory, opts: ConvertOptions = {}): Promise<ConvertResult> {
  throwIfAborted(opts.signal);
  if (opts.dtype !== undefined && opts.dtype !== 'F32' && opts.dtype !== 'F16' && opts.dtype !== 'BF16') {
    throw new FerryError('E_ARGUMENT', `cannot cast to ${String(opts.dtype)} (F32, F16 or BF16)`);
  }
  const chunkBytes = opts.chunkBytes ?? 16 << 20;
  if (!Number.isSafeInteger(chunkBytes) || chunkBytes <= 0) throw new FerryError('E_ARGUMENT', `chunkBytes must be a positive integer, got ${chunkBytes}`);

  const { kept, aliases, warnings } = dedupeTied(ckpt.tensors);
  for (const t of kept) {
    if (t.dtype === 'C128') {
      throw new FerryError('E_UNSUPPORTED', 'complex128 tensors cannot be stored in safetensors', { tensor: t.name, file: firstFile(t) });
    }
  }
  const metadata: Record<string, string> = { ...(opts.metadata ?? { format: 'pt' }) };
  for (const [removed, keptName] of Object.entries(aliases)) {
    if (!(removed in metadata)) metadata[removed] = keptName; // convert.py: never overwrite a metadata key
  }
  const removedCount = Object.keys(aliases).length;
  if (removedCount > 0) {
    warnings.push(
      `${removedCount} tied tensor${removedCount > 1 ? 's' : ''} stored once: ${Object.entries(aliases)
        .map(([r, k]) => `${r} → ${k}`)
        .join(', ')}`,
    );
  }

  const writable: WritableTensor[] = kept.map((ref) => {
    const out = targetDType(ref.dtype, opts.dtype);
    return {
      name: ref.name,
      dtype: out,
      shape: ref.shape,
      chunks: () => castChunks(ref, out, files, chunkBytes, opts.signal),
    };
  });

  try {
    const res = await writeSafetensors(writable, sinks, {
      metadata,
      maxShardSize: opts.maxShardSize,
      signal: opts.signal,
      onProgress: opts.onProgress,
    });
    return { files: res.files, tensors: kept.length, totalBytes: res.totalBytes, aliases, warnings };
  } catch (e) {
    throw toFerryError(e);
  }
}

async function* castChunks(ref: TensorRef, out: DType, files: FileSet, chunkBytes: number, signal: AbortSignal | undefined): AsyncGenerator<Uint8Array> {
  const from = ref.dtype;
  for await (const chunk of readTensorChunks(ref, files, chunkBytes, { signal })) {
    yield from === out ? chunk : castFloatBytes(chunk, from as FloatDType, out as FloatDType);
  }
}

function firstFile(t: TensorRef): string | undefined {
  return t.data.kind === 'spans' ? t.data.spans[0]?.file : undefined;
}
