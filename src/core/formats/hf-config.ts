import type { FileSet } from '../io/source.js';
import { dirname, joinPath, readJson } from '../io/source.js';
import type { HfConfigSummary } from '../ir/checkpoint.js';
import { FerryError } from '../errors.js';

/** Size-like config keys worth showing (their names differ per architecture). */
const SIZE_KEYS = [
  'vocab_size', 'hidden_size', 'n_embd', 'd_model', 'num_hidden_layers', 'n_layer', 'num_layers',
  'num_attention_heads', 'n_head', 'num_key_value_heads', 'intermediate_size', 'n_inner', 'd_ff',
  'max_position_embeddings', 'n_positions', 'type_vocab_size', 'image_size', 'patch_size', 'num_channels',
  'num_labels', 'head_dim',
];

/** Find config.json next to `entry` (or at the root of the set) and summarise it. */
export async function readHfConfig(files: FileSet, entry: string): Promise<HfConfigSummary | undefined> {
  const src = files.get(joinPath(dirname(entry), 'config.json')) ?? files.get('config.json');
  if (!src) return undefined;
  const raw = await readJson(src, 16 << 20);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new FerryError('E_JSON', 'config.json is not a JSON object', { file: src.name });
  }
  const obj = raw as Record<string, unknown>;
  const sizes: Record<string, number> = {};
  for (const k of SIZE_KEYS) {
    const v = obj[k];
    if (typeof v === 'number' && Number.isFinite(v)) sizes[k] = v;
  }
  if (obj.id2label && typeof obj.id2label === 'object' && sizes.num_labels === undefined) {
    sizes.num_labels = Object.keys(obj.id2label).length;
  }
  const arch = Array.isArray(obj.architectures) ? obj.architectures.filter((a): a is string => typeof a === 'string') : undefined;
  return {
    model_type: typeof obj.model_type === 'string' ? obj.model_type : undefined,
    architectures: arch,
    sizes,
    torch_dtype: typeof obj.torch_dtype === 'string' ? obj.torch_dtype : undefined,
    raw: obj,
  };
}
