import type { Checkpoint } from './checkpoint.js';
import type { DType } from './dtype.js';
import { byteLengthOf, numelOf } from './dtype.js';

export interface DTypeTotal {
  dtype: DType;
  tensors: number;
  params: number;
  bytes: number;
}

export interface CheckpointTotals {
  tensors: number;
  /** Total elements over all tensors (tied aliases counted once when the reader marks them). */
  params: number;
  bytes: number;
  byDtype: DTypeTotal[];
}

/** Totals by dtype and overall. A tensor listed as another's alias is not counted twice. */
export function checkpointTotals(ckpt: Checkpoint): CheckpointTotals {
  const seen = new Set<string>();
  const by = new Map<DType, DTypeTotal>();
  let params = 0;
  let bytes = 0;
  for (const t of ckpt.tensors) {
    if (seen.has(t.name)) continue;
    for (const a of t.aliases ?? []) seen.add(a);
    const n = numelOf(t.shape);
    const b = byteLengthOf(t.dtype, n);
    params += n;
    bytes += b;
    const e = by.get(t.dtype) ?? { dtype: t.dtype, tensors: 0, params: 0, bytes: 0 };
    e.tensors++;
    e.params += n;
    e.bytes += b;
    by.set(t.dtype, e);
  }
  return {
    tensors: ckpt.tensors.length,
    params,
    bytes,
    byDtype: [...by.values()].sort((a, b) => b.bytes - a.bytes),
  };
}
