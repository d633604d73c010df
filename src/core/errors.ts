/**
 * Typed errors. Every failure a user can cause with a file is a FerryError with a stable `code`,
 * the file at fault and, where known, the byte offset / tensor / node / pickle global.
 * Codes are part of the public contract (CLI JSON, UI, tests): add new ones, never rename.
 */
export const ERROR_CODES = {
  E_TRUNCATED: 'the file ends before the data it declares',
  E_BAD_MAGIC: 'the file does not start with the bytes its format requires',
  E_UNKNOWN_FORMAT: 'no reader recognises this file',
  E_HEADER: 'the header is malformed',
  E_HEADER_TOO_LARGE: 'the header is larger than the format allows',
  E_LIMIT: 'a declared size exceeds a safety limit',
  E_OFFSETS: 'tensor byte ranges overlap, leave holes, or fall outside the data',
  E_DUPLICATE: 'a name is declared twice',
  E_DTYPE: 'unknown or unsupported data type',
  E_SHAPE: 'shape and byte length disagree',
  E_ZIP: 'the zip container is malformed',
  E_PICKLE: 'the pickle stream is malformed',
  E_PICKLE_GLOBAL: 'the pickle references a global that is not on the allow-list (refused, never executed)',
  E_PROTOBUF: 'the protobuf stream is malformed',
  E_MISSING_FILE: 'a file the checkpoint refers to was not provided',
  E_INDEX: 'a shard index is malformed or inconsistent with its shards',
  E_JSON: 'a JSON document is malformed',
  E_UNSUPPORTED: 'valid input, but a feature Ferry does not support',
  E_ARGUMENT: 'an invalid option or argument',
  E_CANCELLED: 'the operation was cancelled',
  E_INTERNAL: 'an internal invariant failed (a bug in Ferry)',
} as const;

export type FerryErrorCode = keyof typeof ERROR_CODES;

export interface FerryErrorDetails {
  /** File name (path relative to the dropped folder) at fault. */
  file?: string | undefined;
  /** Absolute byte offset in `file` where the problem was found. */
  offset?: number | undefined;
  tensor?: string | undefined;
  node?: string | undefined;
  /** For E_PICKLE_GLOBAL: the refused `module.name`. */
  global?: string | undefined;
}

export class FerryError extends Error {
  override readonly name = 'FerryError';
  readonly code: FerryErrorCode;
  readonly file: string | undefined;
  readonly offset: number | undefined;
  readonly tensor: string | undefined;
  readonly node: string | undefined;
  readonly global: string | undefined;
  /** The message without the location suffix. */
  readonly detail: string;

  constructor(code: FerryErrorCode, detail: string, where: FerryErrorDetails = {}) {
    super(FerryError.format(code, detail, where));
    this.code = code;
    this.detail = detail;
    this.file = where.file;
    this.offset = where.offset;
    this.tensor = where.tensor;
    this.node = where.node;
    this.global = where.global;
  }

  private static format(code: FerryErrorCode, detail: string, w: FerryErrorDetails): string {
    const loc: string[] = [];
    if (w.file !== undefined) loc.push(w.file);
    if (w.offset !== undefined) loc.push(`offset ${w.offset}`);
    if (w.tensor !== undefined) loc.push(`tensor '${w.tensor}'`);
    if (w.node !== undefined) loc.push(`node '${w.node}'`);
    if (w.global !== undefined) loc.push(`global '${w.global}'`);
    return `${code}: ${detail}${loc.length ? ` (${loc.join(', ')})` : ''}`;
  }

  /** Plain-data form (crosses worker boundaries, printed by the CLI's --json). */
  toJSON(): SerializedFerryError {
    return {
      name: 'FerryError',
      code: this.code,
      message: this.message,
      detail: this.detail,
      file: this.file,
      offset: this.offset,
      tensor: this.tensor,
      node: this.node,
      global: this.global,
    };
  }

  /** Copy of this error with missing location fields filled in (used when re-throwing up a stack). */
  withContext(where: FerryErrorDetails): FerryError {
    return new FerryError(this.code, this.detail, {
      file: this.file ?? where.file,
      offset: this.offset ?? where.offset,
      tensor: this.tensor ?? where.tensor,
      node: this.node ?? where.node,
      global: this.global ?? where.global,
    });
  }
}

export interface SerializedFerryError {
  name: 'FerryError';
  code: FerryErrorCode;
  message: string;
  detail: string;
  file?: string | undefined;
  offset?: number | undefined;
  tensor?: string | undefined;
  node?: string | undefined;
  global?: string | undefined;
}

export function isFerryError(e: unknown): e is FerryError {
  return e instanceof FerryError;
}

/** Turn anything thrown into a FerryError (unknown errors become E_INTERNAL, keeping their message). */
export function toFerryError(e: unknown, where: FerryErrorDetails = {}): FerryError {
  if (e instanceof FerryError) return e.withContext(where);
  if (e instanceof RangeError && /allocation|Array buffer/i.test(e.message)) {
    return new FerryError('E_LIMIT', `allocation refused: ${e.message}`, where);
  }
  const msg = e instanceof Error ? e.message : String(e);
  if (e instanceof Error && e.name === 'AbortError') return new FerryError('E_CANCELLED', msg, where);
  return new FerryError('E_INTERNAL', msg, where);
}

/** Throws E_CANCELLED if the signal is aborted. Call between tensors / chunks. */
export function throwIfAborted(signal: AbortSignal | undefined, where: FerryErrorDetails = {}): void {
  if (signal?.aborted) throw new FerryError('E_CANCELLED', 'cancelled by the user', where);
}
