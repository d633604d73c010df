import type { TensorRef } from '../ir/checkpoint.js';

/**
 * Tied / shared tensors. safetensors forbids aliasing, so tensors that are the very same bytes (same
 * storage, same view) are written once, like safetensors' convert.py and transformers' save_pretrained do.
 *
 * Two refs are the same tensor when
 *  - a reader says so (`TensorRef.aliases`, e.g. PyTorch tensors sharing one storage with the same view), or
 *  - they have the same dtype, shape and byte source: the same file spans and the same encoding
 *    (for PyTorch views: the same storage span, storageOffset and strides).
 * Views of one storage that differ (slices) are not the same tensor: each is written with its own bytes
 * (transformers clones such "disjoint" tensors too).
 *
 * The tensor kept is the first of its group in checkpoint order (the state_dict order: for HF models the
 * input embedding comes before the tied output head), the others are recorded as `removed: kept`.
 */
export interface TiedResult {
  /** Tensors to write, in checkpoint order. */
  kept: TensorRef[];
  /** removed name → kept name. */
  aliases: Record<string, string>;
  warnings: string[];
}

/** Identity of a tensor's bytes (undefined for inline data: never considered shared). */
function storageKey(t: TensorRef): string | undefined {
  if (t.data.kind !== 'spans') return undefined;
  return JSON.stringify([t.dtype, t.shape, t.storedDtype ?? null, t.data.spans.map((s) => [s.file, s.offset, s.length]), encodingKey(t)]);
}

function encodingKey(t: TensorRef): unknown {
  if (t.data.kind !== 'spans') return null;
  const e = t.data.encoding;
  switch (e.kind) {
    case 'strided':
      return ['strided', e.storageOffset, e.strides, e.bigEndian === true];
    case 'affine-quant':
      return ['affine-quant', e.stored, e.scale, e.min];
    default:
      return [e.kind];
  }
}

export function dedupeTied(tensors: readonly TensorRef[]): TiedResult {
  const n = tensors.length;
  const parent = tensors.map((_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) {
      const p = parent[i] as number;
      parent[i] = parent[p] as number;
      i = p;
    }
    return i;
  };
  // Union by smallest index so the root is the first in checkpoint order.
  const union = (a: number, b: number): void => {
    const ra = find(a);
    const rb = find(b);
    if (ra !== rb) parent[Math.max(ra, rb)] = Math.min(ra, rb);
  };
  const warnings: string[] = [];
  const indexOf = new Map<string, number>();
  tensors.forEach((t, i) => {
    if (!indexOf.has(t.name)) indexOf.set(t.name, i);
  });
  const byKey = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const t = tensors[i] as TensorRef;
    const key = storageKey(t);
    if (key !== undefined) {
      const j = byKey.get(key);
      if (j === undefined) byKey.set(key, i);
      else union(j, i);
    }
    for (const alias of t.aliases ?? []) {
      const j = indexOf.get(alias);
      if (j === undefined || j === i) continue;
      const o = tensors[j] as TensorRef;
      if (o.dtype !== t.dtype || JSON.stringify(o.shape) !== JSON.stringify(t.shape)) {
        warnings.push(`'${t.name}' and '${alias}' are marked as aliases but differ in dtype or shape; both are written`);
        continue;
      }
      union(i, j);
    }
  }
  const kept: TensorRef[] = [];
  const aliases: Record<string, string> = {};
  for (let i = 0; i < n; i++) {
    const r = find(i);
    const t = tensors[i] as TensorRef;
    if (r === i) kept.push(t);
    else aliases[t.name] = (tensors[r] as TensorRef).name;
  }
  return { kept, aliases, warnings };
}
