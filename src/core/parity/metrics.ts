/**
 * Numerical parity metrics between a reference and a candidate tensor (both decoded to float64 on the fly).
 * Pure functions: no runtime, no I/O.
 */

export interface ParityMetrics {
  numel: number;
  maxAbs: number;
  meanAbs: number;
  rmse: number;
  /** ‖cand − ref‖₂ / ‖ref‖₂ (0 when both are zero). */
  relL2: number;
  /** cos(ref, cand); 1 when both are all-zero. */
  cosine: number;
  /** Largest |cand − ref| / ulp(ref) in float32 units. */
  maxUlp: number;
  refNaN: number;
  candNaN: number;
  refInf: number;
  candInf: number;
  /** Positions where exactly one side is NaN, or the infinities differ. */
  nonFiniteMismatch: number;
}

type Numeric = ArrayLike<number>;

/** ulp of a float32 value (spacing to the next representable float32 away from zero). */
export function ulpF32(x: number): number {
  const a = Math.abs(x);
  if (!Number.isFinite(a)) return NaN;
  if (a < 2 ** -126) return 2 ** -149;
  return 2 ** (Math.floor(Math.log2(a)) - 23);
}

export function compareTensors(ref: Numeric, cand: Numeric): ParityMetrics {
  if (ref.length !== cand.length) throw new RangeError(`length mismatch: ${ref.length} vs ${cand.length}`);
  const n = ref.length;
  let maxAbs = 0;
  let sumAbs = 0;
  let sumSq = 0;
  let refSq = 0;
  let candSq = 0;
  let dot = 0;
  let maxUlp = 0;
  let refNaN = 0;
  let candNaN = 0;
  let refInf = 0;
  let candInf = 0;
  let nonFiniteMismatch = 0;
  let counted = 0;
  for (let i = 0; i < n; i++) {
    const r = ref[i] as number;
    const c = cand[i] as number;
    const rn = Number.isNaN(r);
    const cn = Number.isNaN(c);
    if (rn) refNaN++;
    if (cn) candNaN++;
    const ri = !rn && !Number.isFinite(r);
    const ci = !cn && !Number.isFinite(c);
    if (ri) refInf++;
    if (ci) candInf++;
    if (rn || cn || ri || ci) {
      if (rn !== cn || ((ri || ci) && r !== c)) nonFiniteMismatch++;
      continue;
    }
    const d = Math.abs(c - r);
    if (d > maxAbs) maxAbs = d;
    const u = d / ulpF32(r);
    if (u > maxUlp) maxUlp = u;
    sumAbs += d;
    sumSq += d * d;
    refSq += r * r;
    candSq += c * c;
    dot += r * c;
    counted++;
  }
  const denom = Math.sqrt(refSq) * Math.sqrt(candSq);
  return {
    numel: n,
    maxAbs,
    meanAbs: counted ? sumAbs / counted : 0,
    rmse: counted ? Math.sqrt(sumSq / counted) : 0,
    relL2: refSq > 0 ? Math.sqrt(sumSq) / Math.sqrt(refSq) : sumSq > 0 ? Infinity : 0,
    cosine: denom > 0 ? dot / denom : refSq === 0 && candSq === 0 ? 1 : 0,
    maxUlp,
    refNaN,
    candNaN,
    refInf,
    candInf,
    nonFiniteMismatch,
  };
}

/** Indices of the k largest values of row (ties: lower index first). */
export function topK(row: Numeric, k: number): number[] {
  const idx = Array.from({ length: row.length }, (_, i) => i);
  idx.sort((a, b) => (row[b] as number) - (row[a] as number) || a - b);
  return idx.slice(0, k);
}

/**
 * Top-1 / top-k agreement over the last axis of logits shaped [..., vocab]:
 * top1 = share of rows whose argmax agrees; topK = mean overlap of the two top-k sets, divided by k.
 */
export function topKAgreement(ref: Numeric, cand: Numeric, vocab: number, k = 5): { rows: number; top1: number; topK: number } {
  if (vocab <= 0 || ref.length % vocab !== 0 || cand.length !== ref.length) throw new RangeError('logits shape mismatch');
  const rows = ref.length / vocab;
  let top1 = 0;
  let overlap = 0;
  const slice = (a: Numeric, r: number) => Array.prototype.slice.call(a, r * vocab, (r + 1) * vocab) as number[];
  for (let r = 0; r < rows; r++) {
    const a = topK(slice(ref, r), k);
    const b = topK(slice(cand, r), k);
    if (a[0] === b[0]) top1++;
    const set = new Set(a);
    overlap += b.filter((x) => set.has(x)).length / k;
  }
  return { rows, top1: rows ? top1 / rows : 1, topK: rows ? overlap / rows : 1 };
}
