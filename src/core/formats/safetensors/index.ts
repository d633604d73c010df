import { FerryError, throwIfAborted } from '../../errors.js';
import type { ByteSource } from '../../io/source.js';
import { readText } from '../../io/source.js';
import type { Checkpoint, TensorRef } from '../../ir/checkpoint.js';
import type { FormatReader, ReadContext } from '../types.js';
import { MAX_HEADER_SIZE, readSafetensorsHeader } from './header.js';
import { scanJsonKeys, utf8Offset } from './json-scan.js';

export { MAX_HEADER_SIZE, readSafetensorsHeader, expectedBytes, SAFETENSORS_DTYPES } from './header.js';
export type { SafetensorsHeader } from './header.js';

const INDEX_SUFFIX = '.safetensors.index.json';

export const safetensorsReader: FormatReader = {
  id: 'safetensors',
  label: 'safetensors',
  extensions: ['.safetensors', INDEX_SUFFIX],
  sniff(head: Uint8Array, name: string): 0 | 1 | 2 {
    if (head.length >= 9 && head[8] === 0x7b) {
      const n = new DataView(head.buffer, head.byteOffset, 8).getBigUint64(0, true);
      if (n > 0n && n <= BigInt(MAX_HEADER_SIZE)) return 2;
    }
    if (name.toLowerCase().endsWith(INDEX_SUFFIX)) return 1;
    return 0;
  },
  async read(entry: ByteSource, ctx: ReadContext): Promise<Checkpoint> {
    throwIfAborted(ctx.signal, { file: entry.name });
    if (entry.name.toLowerCase().endsWith(INDEX_SUFFIX)) return readShardedSafetensors(entry, ctx);
    const h = await readSafetensorsHeader(entry);
    ctx.onProgress?.(h.dataStart, h.dataStart, entry.name);
    return {
      format: 'safetensors',
      entry: entry.name,
      files: [entry.name],
      tensors: h.tensors,
      metadata: h.metadata,
      warnings: [],
    };
  },
};

/**
 * `*.safetensors.index.json` as transformers writes it: {"metadata": {...}, "weight_map": {name: shard}}.
 * Each shard is opened once; the index and the shards must agree exactly. Tensors follow the weight_map order.
 */
export async function readShardedSafetensors(entry: ByteSource, ctx: ReadContext): Promise<Checkpoint> {
  const file = entry.name;
  const text = await readText(entry, 64 << 20);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    const m = /position (\d+)/.exec((e as Error).message);
    throw new FerryError('E_JSON', `invalid JSON: ${(e as Error).message}`, { file, offset: m ? utf8Offset(text, Number(m[1])) : undefined });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new FerryError('E_INDEX', 'a shard index must be a JSON object {metadata, weight_map}', { file, offset: 0 });
  }
  const scan = scanJsonKeys(text);
  if (scan.duplicate) {
    throw new FerryError('E_DUPLICATE', `'${scan.duplicate.path.join('.')}' is declared twice in the index`, {
      file,
      offset: utf8Offset(text, scan.duplicate.index),
      tensor: scan.duplicate.path.length === 2 && scan.duplicate.path[0] === 'weight_map' ? scan.duplicate.key : undefined,
    });
  }
  const index = parsed as Record<string, unknown>;
  const wm = index.weight_map;
  if (typeof wm !== 'object' || wm === null || Array.isArray(wm)) {
    throw new FerryError('E_INDEX', "the index has no 'weight_map' object", { file });
  }
  const weightMap = wm as Record<string, unknown>;
  if (index.metadata !== undefined && (typeof index.metadata !== 'object' || index.metadata === null || Array.isArray(index.metadata))) {
    throw new FerryError('E_INDEX', "the index 'metadata' must be an object", { file });
  }
  // weight_map keys in the order of the text (JSON.parse would move integer-like names first).
  const names = weightMapOrder(text, weightMap);
  const shardOf = new Map<string, string>();
  const shards: string[] = [];
  for (const name of names) {
    const shard = weightMap[name];
    if (typeof shard !== 'string' || shard === '') {
      throw new FerryError('E_INDEX', `weight_map['${name}'] must be a shard file name`, { file, tensor: name });
    }
    shardOf.set(name, shard);
    if (!shards.includes(shard)) shards.push(shard);
  }
  // Shard files in name order (model-00001-of-0000N first), each opened once.
  shards.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

  const byName = new Map<string, TensorRef>();
  const files: string[] = [];
  let metadata: Record<string, string> | undefined;
  let done = 0;
  for (const shard of shards) {
    throwIfAborted(ctx.signal, { file });
    const src = ctx.files.resolve(file, shard);
    if (!src) {
      throw new FerryError('E_MISSING_FILE', `shard '${shard}' is listed in the index but was not provided; add it next to ${file}`, { file });
    }
    const h = await readSafetensorsHeader(src);
    files.push(src.name);
    metadata ??= h.metadata;
    for (const t of h.tensors) {
      const listed = shardOf.get(t.name);
      if (listed === undefined) {
        throw new FerryError('E_INDEX', `shard holds tensor '${t.name}' that the index's weight_map does not list`, { file: src.name, tensor: t.name });
      }
      if (listed !== shard) {
        throw new FerryError('E_INDEX', `the index puts '${t.name}' in '${listed}' but it is (also) in '${shard}'`, { file: src.name, tensor: t.name });
      }
      byName.set(t.name, t);
    }
    done++;
    ctx.onProgress?.(done, shards.length, src.name);
  }
  const tensors: TensorRef[] = [];
  for (const name of names) {
    const t = byName.get(name);
    if (!t) {
      throw new FerryError('E_INDEX', `the index maps '${name}' to '${shardOf.get(name) ?? ''}' but that shard does not hold it`, { file, tensor: name });
    }
    tensors.push(t);
  }
  const warnings: string[] = [];
  const meta = index.metadata as Record<string, unknown> | undefined;
  const declared = meta?.total_size;
  if (typeof declared === 'number') {
    let total = 0;
    for (const t of tensors) if (t.data.kind === 'spans') for (const s of t.data.spans) total += s.length;
    if (declared !== total) warnings.push(`index metadata.total_size is ${declared} but the shards hold ${total} tensor bytes`);
  }
  return { format: 'safetensors', entry: file, files, tensors, metadata, warnings };
}

function weightMapOrder(text: string, weightMap: Record<string, unknown>): string[] {
  // Find the weight_map object in the text and list its keys in order: scan it as its own document.
  const scan = scanJsonKeys(text);
  const i = scan.topLevelKeys.lastIndexOf('weight_map');
  const at = scan.topLevelIndex[i];
  if (at !== undefined) {
    const colon = text.indexOf(':', at + JSON.stringify('weight_map').length);
    const open = text.indexOf('{', colon);
    if (open >= 0) {
      const end = matchingBrace(text, open);
      if (end > open) {
        const keys = scanJsonKeys(text.slice(open, end + 1)).topLevelKeys;
        if (keys.length === Object.keys(weightMap).length) return keys;
      }
    }
  }
  return Object.keys(weightMap);
}

function matchingBrace(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      i++;
      while (i < text.length && text.charCodeAt(i) !== 0x22) i += text.charCodeAt(i) === 0x5c ? 2 : 1;
    } else if (c === 0x7b || c === 0x5b) depth++;
    else if (c === 0x7d || c === 0x5d) {
      depth--;
      if (depth === 0) return i;
    }
  }
  return -1;
}
