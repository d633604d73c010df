import { FerryError, toFerryError } from '../errors.js';
import type { ByteSource, FileSet } from '../io/source.js';
import { basename } from '../io/source.js';
import type { Checkpoint, FormatId } from '../ir/checkpoint.js';
import { readHfConfig } from './hf-config.js';
import type { FormatReader, ReadContext } from './types.js';
import { SNIFF_BYTES } from './types.js';
import { safetensorsReader } from './safetensors/index.js';
import { pytorchReader } from './pytorch/index.js';
import { onnxReader } from './onnx/index.js';
import { tfjsReader } from './tfjs/index.js';
import { npyReader, npzReader } from './numpy/index.js';

/** Every reader, in order of preference when a folder holds several checkpoints of the same model. */
export const READERS: readonly FormatReader[] = [safetensorsReader, pytorchReader, onnxReader, tfjsReader, npzReader, npyReader];

export function readerFor(id: FormatId): FormatReader {
  const r = READERS.find((x) => x.id === id);
  if (!r) throw new FerryError('E_INTERNAL', `no reader registered for ${id}`);
  return r;
}

export interface Candidate {
  /** Entry file path in the FileSet. */
  entry: string;
  format: FormatId;
  label: string;
  /** 2 = magic bytes matched, 1 = name only. */
  confidence: 1 | 2;
}

/** Sniff one file: magic bytes first, extension second. */
export async function sniff(src: ByteSource): Promise<{ reader: FormatReader; confidence: 1 | 2 } | undefined> {
  const head = await src.read(0, Math.min(SNIFF_BYTES, src.size));
  let best: { reader: FormatReader; confidence: 1 | 2 } | undefined;
  for (const r of READERS) {
    const c = r.sniff(head, src.name);
    if (c > 0 && (!best || c > best.confidence)) best = { reader: r, confidence: c as 1 | 2 };
  }
  return best;
}

/** Index files that make their shards part of one checkpoint. */
const SHARD_INDEX = /(?:^|\/)([^/]+?)\.(?:safetensors|bin)\.index\.json$/;

/**
 * The checkpoints found in a set of files, best first. Shards covered by an index and TF.js weight files
 * are not offered separately. Ordering: format preference (READERS order), then shallower paths first.
 */
export async function detectCheckpoints(files: FileSet): Promise<Candidate[]> {
  const found: Candidate[] = [];
  const covered = new Set<string>();
  for (const src of files.sources) {
    if (src.size === 0) continue;
    const s = await sniff(src);
    if (!s) continue;
    found.push({ entry: src.name, format: s.reader.id, label: s.reader.label, confidence: s.confidence });
    if (SHARD_INDEX.test(src.name)) {
      // Shards of an index: same directory, named in the index's weight_map. Read lazily by the reader;
      // here we only hide files matching the HF shard pattern next to the index.
      const dir = src.name.includes('/') ? src.name.slice(0, src.name.lastIndexOf('/') + 1) : '';
      for (const p of files.paths) {
        if (p.startsWith(dir) && /-\d{5}-of-\d{5}\.(?:safetensors|bin)$/.test(basename(p))) covered.add(p);
      }
    }
  }
  const order = (id: FormatId) => READERS.findIndex((r) => r.id === id);
  const depth = (p: string) => p.split('/').length;
  return found
    .filter((c) => !covered.has(c.entry))
    .sort((a, b) => order(a.format) - order(b.format) || depth(a.entry) - depth(b.entry) || b.confidence - a.confidence || a.entry.localeCompare(b.entry));
}

/**
 * Open a checkpoint: `entry` if given (its format sniffed), else the best candidate in the set.
 * Adds the HF config.json summary when one sits next to the entry.
 */
export async function openCheckpoint(files: FileSet, entry?: string, ctx: Omit<ReadContext, 'files'> = {}): Promise<Checkpoint> {
  let src: ByteSource | undefined;
  let reader: FormatReader | undefined;
  if (entry !== undefined) {
    src = files.get(entry);
    if (!src) throw new FerryError('E_MISSING_FILE', `no such file in the input: ${entry}`, { file: entry });
    const s = await sniff(src);
    if (!s) {
      throw new FerryError('E_UNKNOWN_FORMAT', `not a checkpoint Ferry can read (supported: ${READERS.map((r) => r.label).join(', ')})`, { file: entry });
    }
    reader = s.reader;
  } else {
    const cands = await detectCheckpoints(files);
    const best = cands[0];
    if (!best) {
      throw new FerryError('E_UNKNOWN_FORMAT', `no checkpoint found among ${files.paths.length} file(s) (supported: ${READERS.map((r) => r.label).join(', ')})`);
    }
    src = files.get(best.entry) as ByteSource;
    reader = readerFor(best.format);
  }
  let ckpt: Checkpoint;
  try {
    ckpt = await reader.read(src, { files, ...ctx });
  } catch (e) {
    throw toFerryError(e, { file: src.name });
  }
  if (!ckpt.config) {
    try {
      ckpt.config = await readHfConfig(files, src.name);
    } catch (e) {
      ckpt.warnings.push(`config.json ignored: ${toFerryError(e).message}`);
    }
  }
  return ckpt;
}
