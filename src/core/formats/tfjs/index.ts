import { FerryError, throwIfAborted } from '../../errors.js';
import type { ByteSource } from '../../io/source.js';
import { basename, dirname, joinPath, readJson } from '../../io/source.js';
import type { DType } from '../../ir/dtype.js';
import type { ByteSpan, Checkpoint, GraphSummary, TensorEncoding, TensorRef } from '../../ir/checkpoint.js';
import type { FormatReader, ReadContext } from '../types.js';

/**
 * TF.js model.json (graph models: GraphDef JSON; layers models: Keras JSON) and its weightsManifest:
 * the weights of a group are concatenated, in manifest order, across ALL the group's shard files.
 * Byte sizes follow tfjs-core io (DTYPE_VALUE_SIZE_MAP, string = u32 LE length + bytes per element);
 * quantized weights decode as value = q * scale + min (uint8/uint16) or float16 → float32.
 */

/** tfjs weight dtypes → Ferry dtype and bytes per element. */
const TFJS_DTYPES: Record<string, { dtype: DType; bytes: number }> = {
  float32: { dtype: 'F32', bytes: 4 },
  int32: { dtype: 'I32', bytes: 4 },
  bool: { dtype: 'BOOL', bytes: 1 },
  complex64: { dtype: 'C64', bytes: 8 },
};

/** TensorFlow DataType enum names (GraphDef JSON) → display dtype. */
const TF_DT: Record<string, string> = {
  DT_FLOAT: 'F32',
  DT_DOUBLE: 'F64',
  DT_INT32: 'I32',
  DT_UINT8: 'U8',
  DT_INT16: 'I16',
  DT_INT8: 'I8',
  DT_STRING: 'string',
  DT_COMPLEX64: 'C64',
  DT_INT64: 'I64',
  DT_BOOL: 'BOOL',
  DT_BFLOAT16: 'BF16',
  DT_UINT16: 'U16',
  DT_HALF: 'F16',
  DT_UINT32: 'U32',
  DT_UINT64: 'U64',
  DT_COMPLEX128: 'C128',
};

/** Keras dtype strings → display dtype. */
const KERAS_DT: Record<string, string> = { float32: 'F32', float16: 'F16', bfloat16: 'BF16', float64: 'F64', int32: 'I32', int64: 'I64', bool: 'BOOL', string: 'string', uint8: 'U8', int8: 'I8' };

export const tfjsReader: FormatReader = {
  id: 'tfjs',
  label: 'TensorFlow.js',
  extensions: ['model.json'],
  sniff(head, name) {
    if (looksLikeModelJson(head)) return 2;
    return basename(name).toLowerCase() === 'model.json' ? 1 : 0;
  },
  read: readTfjs,
};

/** A JSON object whose head names modelTopology or weightsManifest as a key. */
export function looksLikeModelJson(head: Uint8Array): boolean {
  let i = 0;
  if (head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf) i = 3;
  while (i < head.length && (head[i] === 0x20 || head[i] === 0x0a || head[i] === 0x0d || head[i] === 0x09)) i++;
  if (head[i] !== 0x7b) return false; // '{'
  const text = new TextDecoder('utf-8', { fatal: false }).decode(head.subarray(i));
  return /"(?:modelTopology|weightsManifest)"\s*:/.test(text);
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

interface Shard {
  src: ByteSource;
  /** Offset of this shard in the group's concatenated byte space. */
  start: number;
}

async function readTfjs(entry: ByteSource, ctx: ReadContext): Promise<Checkpoint> {
  const file = entry.name;
  const json = await readJson(entry);
  if (!isObj(json)) throw new FerryError('E_JSON', 'model.json is not a JSON object', { file });
  const warnings: string[] = [];
  const tensors: TensorRef[] = [];
  const files = [file];
  const names = new Set<string>();
  const manifest = json.weightsManifest;
  if (manifest !== undefined && !Array.isArray(manifest)) throw new FerryError('E_JSON', 'weightsManifest is not an array', { file });
  if (json.modelTopology === undefined && manifest === undefined) {
    throw new FerryError('E_HEADER', 'model.json has neither modelTopology nor weightsManifest', { file });
  }
  const skipped: string[] = [];
  let optimizer = 0;

  for (const [gi, group] of (manifest ?? []).entries()) {
    if (!isObj(group) || !Array.isArray(group.paths) || !Array.isArray(group.weights)) {
      throw new FerryError('E_JSON', `weightsManifest[${gi}] needs 'paths' and 'weights' arrays`, { file });
    }
    const shards: Shard[] = [];
    let total = 0;
    for (const p of group.paths) {
      if (typeof p !== 'string' || p === '') throw new FerryError('E_JSON', `weightsManifest[${gi}].paths holds a non-string`, { file });
      const src = ctx.files.resolve(file, p);
      if (!src) {
        throw new FerryError('E_MISSING_FILE', `weight shard '${p}' is referenced by ${file} but was not provided`, { file: joinPath(dirname(file), p) });
      }
      shards.push({ src, start: total });
      total += src.size;
      if (!files.includes(src.name)) files.push(src.name);
    }
    const at = (cursor: number): { file: string; offset: number } => {
      for (let k = shards.length - 1; k >= 0; k--) {
        const s = shards[k] as Shard;
        if (cursor >= s.start) return { file: s.src.name, offset: cursor - s.start };
      }
      return { file, offset: cursor };
    };
    const spansOf = (offset: number, length: number): ByteSpan[] => {
      const spans: ByteSpan[] = [];
      let pos = offset;
      const end = offset + length;
      for (const s of shards) {
        const sEnd = s.start + s.src.size;
        if (pos >= end) break;
        if (pos >= sEnd) continue;
        const len = Math.min(end, sEnd) - pos;
        spans.push({ file: s.src.name, offset: pos - s.start, length: len });
        pos += len;
      }
      return spans;
    };
    const readAt = async (offset: number, length: number): Promise<Uint8Array> => {
      const out = new Uint8Array(length);
      let o = 0;
      for (const sp of spansOf(offset, length)) {
        const src = shards.find((s) => s.src.name === sp.file)?.src as ByteSource;
        out.set(await src.read(sp.offset, sp.length), o);
        o += sp.length;
      }
      return out;
    };

    let cursor = 0;
    for (const [wi, w] of group.weights.entries()) {
      throwIfAborted(ctx.signal, { file });
      if (!isObj(w) || typeof w.name !== 'string' || typeof w.dtype !== 'string' || !Array.isArray(w.shape)) {
        throw new FerryError('E_JSON', `weightsManifest[${gi}].weights[${wi}] needs name, dtype and shape`, { file });
      }
      const name = w.name;
      const where = { file, tensor: name };
      const shape: number[] = [];
      let numel = 1;
      for (const d of w.shape) {
        if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) throw new FerryError('E_SHAPE', `invalid shape ${JSON.stringify(w.shape)}`, where);
        shape.push(d);
        numel *= d;
      }
      if (!Number.isSafeInteger(numel)) throw new FerryError('E_LIMIT', `shape ${JSON.stringify(shape)} has too many elements`, where);
      const overrun = (size: number): never => {
        throw new FerryError('E_OFFSETS', `weight needs ${size} bytes at ${cursor} but the group's shards hold ${total} bytes`, { ...where, ...at(Math.min(cursor, total)) });
      };

      if (w.dtype === 'string') {
        // numel × (u32 LE length + bytes); the lengths must be read to find where the next weight starts.
        if (numel * 4 > total - cursor) overrun(numel * 4);
        for (let k = 0; k < numel; k++) {
          if (cursor + 4 > total) overrun(4);
          const lb = await readAt(cursor, 4);
          const len = new DataView(lb.buffer).getUint32(0, true);
          if (cursor + 4 + len > total) overrun(4 + len);
          cursor += 4 + len;
        }
        skipped.push(`${name} (string)`);
        continue;
      }
      const base = TFJS_DTYPES[w.dtype];
      if (!base) throw new FerryError('E_DTYPE', `unknown TF.js weight dtype '${w.dtype}'`, where);

      let dtype: DType = base.dtype;
      let storedDtype: DType | undefined;
      let encoding: TensorEncoding = { kind: 'raw' };
      let size = numel * base.bytes;
      const q = w.quantization;
      if (q !== undefined) {
        if (!isObj(q) || typeof q.dtype !== 'string') throw new FerryError('E_JSON', 'quantization needs a dtype', where);
        if (q.dtype === 'uint8' || q.dtype === 'uint16') {
          if (typeof q.scale !== 'number' || typeof q.min !== 'number' || !Number.isFinite(q.scale) || !Number.isFinite(q.min)) {
            throw new FerryError('E_JSON', `${q.dtype} quantization needs numeric 'scale' and 'min'`, where);
          }
          if (w.dtype !== 'float32') {
            throw new FerryError('E_UNSUPPORTED', `${q.dtype}-quantized ${w.dtype} weights (rounded to integers by TF.js) are not supported`, where);
          }
          const stored = q.dtype === 'uint8' ? 'U8' : 'U16';
          dtype = 'F32';
          storedDtype = stored;
          encoding = { kind: 'affine-quant', stored, scale: q.scale, min: q.min };
          size = numel * (stored === 'U8' ? 1 : 2);
        } else if (q.dtype === 'float16') {
          if (w.dtype !== 'float32') throw new FerryError('E_UNSUPPORTED', `float16 quantization of ${w.dtype} weights is not defined by TF.js`, where);
          dtype = 'F32';
          storedDtype = 'F16';
          encoding = { kind: 'f16-to-f32' };
          size = numel * 2;
        } else {
          throw new FerryError('E_DTYPE', `unknown quantization dtype '${q.dtype}'`, where);
        }
      }
      if (cursor + size > total) overrun(size);
      const spans = spansOf(cursor, size);
      cursor += size;
      if (w.group === 'optimizer') {
        optimizer++;
        continue;
      }
      if (names.has(name)) throw new FerryError('E_DUPLICATE', `weight '${name}' is declared twice`, where);
      names.add(name);
      tensors.push({ name, dtype, shape, data: { kind: 'spans', spans, encoding }, storedDtype });
    }
    if (cursor !== total) {
      throw new FerryError('E_OFFSETS', `weightsManifest[${gi}] describes ${cursor} bytes but its shards hold ${total}`, { file: at(cursor).file, offset: at(cursor).offset });
    }
    ctx.onProgress?.(gi + 1, manifest?.length ?? 0, file);
  }

  if (skipped.length) warnings.push(`skipped ${skipped.length} weight(s) Ferry cannot represent: ${skipped.slice(0, 5).join('; ')}${skipped.length > 5 ? '; …' : ''}`);
  if (optimizer) warnings.push(`skipped ${optimizer} optimizer weight(s)`);

  const metadata: Record<string, string> = {};
  for (const k of ['format', 'generatedBy', 'convertedBy'] as const) {
    const v = json[k];
    if (typeof v === 'string') metadata[k] = v;
  }
  const graph = summarize(json, warnings);
  return { format: 'tfjs', entry: file, files, tensors, metadata: Object.keys(metadata).length ? metadata : undefined, graph, warnings };
}

type Io = GraphSummary['inputs'][number];

function summarize(json: Record<string, unknown>, warnings: string[]): GraphSummary | undefined {
  const topo = json.modelTopology;
  if (!isObj(topo)) return undefined;
  const producer = [json.format, json.generatedBy, json.convertedBy].filter((s): s is string => typeof s === 'string' && s !== '').join(' / ') || undefined;
  const counts = new Map<string, number>();
  const bump = (op: string): void => {
    counts.set(op, (counts.get(op) ?? 0) + 1);
  };
  const opCounts = (): GraphSummary['opCounts'] =>
    [...counts.entries()].map(([op, count]) => ({ op, count })).sort((a, b) => b.count - a.count || a.op.localeCompare(b.op));

  if (Array.isArray(topo.node)) {
    // Graph model: GraphDef JSON.
    const nodes = topo.node.filter(isObj);
    for (const n of nodes) bump(typeof n.op === 'string' ? n.op : '?');
    const lib = isObj(topo.library) && Array.isArray(topo.library.function) ? topo.library.function.filter(isObj) : [];
    if (lib.length) {
      const inner = lib.reduce((s, f) => s + (Array.isArray(f.nodeDef) ? f.nodeDef.length : 0), 0);
      warnings.push(`${inner} node(s) inside ${lib.length} library function(s) (control flow) are not counted in the op summary`);
    }
    let inputs: Io[] = [];
    let outputs: Io[] = [];
    const sig = json.signature ?? (isObj(json.userDefinedMetadata) ? json.userDefinedMetadata.signature : undefined);
    if (isObj(sig) && (isObj(sig.inputs) || isObj(sig.outputs))) {
      inputs = tensorInfos(sig.inputs);
      outputs = tensorInfos(sig.outputs);
    } else {
      for (const n of nodes) {
        if (n.op !== 'Placeholder' || typeof n.name !== 'string') continue;
        const attr = isObj(n.attr) ? n.attr : {};
        const dt = isObj(attr.dtype) && typeof attr.dtype.type === 'string' ? (TF_DT[attr.dtype.type] ?? attr.dtype.type) : 'unknown';
        const shp = isObj(attr.shape) && isObj(attr.shape.shape) ? tfShape(attr.shape.shape) : [];
        inputs.push({ name: n.name, dtype: dt, shape: shp });
      }
    }
    return { producer, inputs, outputs, nodeCount: nodes.length, opCounts: opCounts() };
  }

  // Layers model: Keras JSON, either {class_name, config} or {model_config: {class_name, config}}.
  const model = isObj(topo.model_config) ? topo.model_config : topo;
  const inputs: Io[] = [];
  const outputs: Io[] = [];
  let layerCount = 0;
  const walk = (m: Record<string, unknown>, depth: number): void => {
    if (depth > 32) return;
    const cfg = m.config;
    const layers = Array.isArray(cfg) ? cfg : isObj(cfg) && Array.isArray(cfg.layers) ? cfg.layers : [];
    for (const l of layers) {
      if (!isObj(l)) continue;
      const cls = typeof l.class_name === 'string' ? l.class_name : '?';
      const lc = isObj(l.config) ? l.config : undefined;
      if (lc && Array.isArray(lc.layers)) {
        walk(l, depth + 1); // nested Sequential / Functional model: count its layers
        continue;
      }
      layerCount++;
      bump(cls);
    }
  };
  walk(model, 0);
  const cfg = isObj(model.config) ? model.config : undefined;
  const layerList = cfg && Array.isArray(cfg.layers) ? cfg.layers.filter(isObj) : Array.isArray(model.config) ? model.config.filter(isObj) : [];
  const layerByName = new Map<string, Record<string, unknown>>();
  for (const l of layerList) {
    const n = isObj(l.config) && typeof l.config.name === 'string' ? l.config.name : typeof l.name === 'string' ? l.name : undefined;
    if (n) layerByName.set(n, l);
  }
  const kerasIo = (l: Record<string, unknown> | undefined, name: string): Io => {
    const c = l && isObj(l.config) ? l.config : {};
    const shp = Array.isArray(c.batch_input_shape) ? c.batch_input_shape : Array.isArray(c.batch_shape) ? c.batch_shape : undefined;
    return {
      name,
      dtype: typeof c.dtype === 'string' ? (KERAS_DT[c.dtype] ?? c.dtype) : 'unknown',
      shape: shp ? shp.map((d) => (typeof d === 'number' ? d : '?')) : [],
    };
  };
  const names = (v: unknown): string[] => (Array.isArray(v) ? v.map((x) => (Array.isArray(x) && typeof x[0] === 'string' ? x[0] : undefined)).filter((x): x is string => x !== undefined) : []);
  if (cfg && (Array.isArray(cfg.input_layers) || Array.isArray(cfg.output_layers))) {
    for (const n of names(cfg.input_layers)) inputs.push(kerasIo(layerByName.get(n), n));
    for (const n of names(cfg.output_layers)) outputs.push({ name: n, dtype: 'unknown', shape: [] });
  } else if (layerList.length) {
    // Sequential: the input is declared on the first layer (InputLayer or batch_input_shape).
    const first = layerList[0] as Record<string, unknown>;
    const last = layerList[layerList.length - 1] as Record<string, unknown>;
    const nameOf = (l: Record<string, unknown>) => (isObj(l.config) && typeof l.config.name === 'string' ? l.config.name : '?');
    inputs.push(kerasIo(first, nameOf(first)));
    outputs.push({ name: nameOf(last), dtype: 'unknown', shape: [] });
  }
  return { producer, inputs, outputs, nodeCount: layerCount, opCounts: opCounts() };
}

function tfShape(s: Record<string, unknown>): (number | string)[] {
  if (s.unknownRank === true) return [];
  if (!Array.isArray(s.dim)) return [];
  return s.dim.map((d) => {
    const size = isObj(d) ? Number(d.size ?? 0) : NaN;
    return Number.isSafeInteger(size) && size >= 0 ? size : '?';
  });
}

function tensorInfos(m: unknown): Io[] {
  if (!isObj(m)) return [];
  return Object.entries(m).map(([key, v]) => {
    const info = isObj(v) ? v : {};
    const dt = typeof info.dtype === 'string' ? (TF_DT[info.dtype] ?? info.dtype) : 'unknown';
    return { name: typeof info.name === 'string' ? info.name : key, dtype: dt, shape: isObj(info.tensorShape) ? tfShape(info.tensorShape) : [] };
  });
}
