/**
 * Data types, named as safetensors names them (the CLI's --json and the UI use these names).
 * Bit sizes follow the safetensors spec; sub-byte types are packed little-endian.
 */
export const DTYPES = {
  BOOL: { bits: 8, kind: 'bool' },
  F4: { bits: 4, kind: 'float' },
  F6_E2M3: { bits: 6, kind: 'float' },
  F6_E3M2: { bits: 6, kind: 'float' },
  U8: { bits: 8, kind: 'uint' },
  I8: { bits: 8, kind: 'int' },
  F8_E5M2: { bits: 8, kind: 'float' },
  F8_E4M3: { bits: 8, kind: 'float' },
  F8_E8M0: { bits: 8, kind: 'float' },
  F8_E4M3FNUZ: { bits: 8, kind: 'float' },
  F8_E5M2FNUZ: { bits: 8, kind: 'float' },
  I16: { bits: 16, kind: 'int' },
  U16: { bits: 16, kind: 'uint' },
  F16: { bits: 16, kind: 'float' },
  BF16: { bits: 16, kind: 'float' },
  I32: { bits: 32, kind: 'int' },
  U32: { bits: 32, kind: 'uint' },
  F32: { bits: 32, kind: 'float' },
  C64: { bits: 64, kind: 'complex' },
  F64: { bits: 64, kind: 'float' },
  I64: { bits: 64, kind: 'int' },
  U64: { bits: 64, kind: 'uint' },
  /** complex128 (torch.complex128, numpy c16) — not in safetensors. */
  C128: { bits: 128, kind: 'complex' },
} as const satisfies Record<string, { bits: number; kind: 'bool' | 'float' | 'int' | 'uint' | 'complex' }>;

export type DType = keyof typeof DTYPES;

export function isDType(s: string): s is DType {
  return Object.prototype.hasOwnProperty.call(DTYPES, s);
}

export function dtypeBits(d: DType): number {
  return DTYPES[d].bits;
}

/** Byte length of `numel` elements (sub-byte types round up to a whole byte). */
export function byteLengthOf(d: DType, numel: number): number {
  return Math.ceil((numel * DTYPES[d].bits) / 8);
}

export function numelOf(shape: readonly number[]): number {
  let n = 1;
  for (const s of shape) n *= s;
  return n;
}

export function isFloating(d: DType): boolean {
  return DTYPES[d].kind === 'float';
}

/** The dtypes Ferry can cast between (fp32 ↔ fp16 ↔ bf16). */
export const CASTABLE = ['F32', 'F16', 'BF16'] as const;
export type CastDType = (typeof CASTABLE)[number];

/** CLI / UI spelling of cast targets. */
export const CAST_ALIASES: Record<string, CastDType> = { fp32: 'F32', fp16: 'F16', bf16: 'BF16', F32: 'F32', F16: 'F16', BF16: 'BF16' };
