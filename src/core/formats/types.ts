import type { FileSet, ByteSource } from '../io/source.js';
import type { Checkpoint, FormatId } from '../ir/checkpoint.js';

/** Bytes sniffed from the start of every file (enough for every magic we know). */
export const SNIFF_BYTES = 4096;

export interface ReadContext {
  files: FileSet;
  signal?: AbortSignal | undefined;
  /** Reports header parsing progress for huge headers / many shards (bytes of metadata read). */
  onProgress?: ((done: number, total: number, current?: string) => void) | undefined;
}

/**
 * One module per format (Netron's layout): sniff by magic bytes first, extension second; read headers
 * only (tensor bytes stay lazy as TensorRef spans).
 */
export interface FormatReader {
  id: FormatId;
  label: string;
  /** File-name suffixes this reader can be the entry point for (lower case), e.g. '.safetensors'. */
  extensions: string[];
  /**
   * 2 = the magic bytes say this is ours; 1 = only the name says so (e.g. an index.json); 0 = not ours.
   * `head` is the first SNIFF_BYTES (or fewer) bytes of the file.
   */
  sniff(head: Uint8Array, name: string): 0 | 1 | 2;
  /** Read the checkpoint whose entry file is `entry` (may pull sibling files from ctx.files). */
  read(entry: ByteSource, ctx: ReadContext): Promise<Checkpoint>;
}
