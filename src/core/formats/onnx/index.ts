import { FerryError, throwIfAborted } from '../../errors.js';
import type { ByteSource } from '../../io/source.js';
import {
  LazyProtoReader,
  MAX_DEPTH,
  ProtoReader,
  WIRE_LEN,
  WIRE_VARINT,
  expectWire,
  fieldInt32,
  fieldSafeInt,
} from '../../io/protobuf.js';
import type { ProtoField } from '../../io/protobuf.js';
import type { Checkpoint, GraphSummary, TensorRef } from '../../ir/checkpoint.js';
import type { FormatReader, ReadContext } from '../types.js';
import { onnxTypeName } from './dtypes.js';
import { readTensorProto } from './tensor.js';

export { readTensorProto, readTensorProtoFile } from './tensor.js';
export type { OnnxTensorResult, TensorReadOptions } from './tensor.js';
export { ONNX_DATA_TYPES, onnxDataType, onnxTypeName, onnxCodeOf } from './dtypes.js';

/** ModelProto field numbers (onnx.proto). */
const MODEL = { ir_version: 1, producer_name: 2, producer_version: 3, domain: 4, model_version: 5, doc_string: 6, graph: 7, opset_import: 8, metadata_props: 14, training_info: 20, functions: 25, configuration: 26 } as const;
/** GraphProto field numbers. */
const GRAPH = { node: 1, name: 2, initializer: 5, doc_string: 10, input: 11, output: 12, value_info: 13, quantization_annotation: 14, sparse_initializer: 15 } as const;
/** NodeProto field numbers. */
const NODE = { input: 1, output: 2, name: 3, op_type: 4, attribute: 5, doc_string: 6, domain: 7 } as const;
/** AttributeProto field numbers. */
const ATTR = { name: 1, t: 5, g: 6, tensors: 10, graphs: 11, sparse_tensor: 22, sparse_tensors: 23 } as const;

export interface OnnxValueInfo {
  name: string;
  dtype: string;
  shape: (number | string)[];
}

interface GraphState {
  ctx: ReadContext;
  entry: ByteSource;
  tensors: TensorRef[];
  names: Set<string>;
  files: string[];
  warnings: string[];
  skipped: string[];
  mainOps: Map<string, number>;
  mainNodes: number;
  subgraphs: number;
  subNodes: number;
  subInitializers: number;
  constantTensors: number;
  sparse: number;
}

/** ModelProto wire-format check of the head of a file: every field must be a ModelProto field with its wire type. */
export function looksLikeOnnx(head: Uint8Array): boolean {
  if (head.byteLength < 2) return false;
  const r = new ProtoReader(head, 'head');
  let irVersion = false;
  let other = false;
  try {
    for (;;) {
      if (r.eof) break;
      const before = r.offset;
      let f: ProtoField | undefined;
      try {
        f = r.next();
      } catch {
        // The head may cut the last field short; that only counts if something was already recognised.
        if (before > 0) break;
        return false;
      }
      if (!f) break;
      switch (f.field) {
        case MODEL.ir_version:
          if (f.wire !== WIRE_VARINT || f.hi !== 0 || f.lo < 1 || f.lo > 64) return false;
          irVersion = true;
          break;
        case MODEL.model_version:
          if (f.wire !== WIRE_VARINT) return false;
          break;
        case MODEL.producer_name:
        case MODEL.producer_version:
        case MODEL.domain:
        case MODEL.doc_string:
        case MODEL.graph:
        case MODEL.opset_import:
        case MODEL.metadata_props:
        case MODEL.training_info:
        case MODEL.functions:
        case MODEL.configuration:
          if (f.wire !== WIRE_LEN) return false;
          other = true;
          break;
        default:
          return false;
      }
    }
  } catch {
    return false;
  }
  return irVersion && other;
}

export const onnxReader: FormatReader = {
  id: 'onnx',
  label: 'ONNX',
  extensions: ['.onnx'],
  sniff(head, name) {
    if (looksLikeOnnx(head)) return 2;
    return name.toLowerCase().endsWith('.onnx') ? 1 : 0;
  },
  read: readOnnx,
};

async function readOnnx(entry: ByteSource, ctx: ReadContext): Promise<Checkpoint> {
  const root = LazyProtoReader.of(entry);
  const file = entry.name;
  const st: GraphState = {
    ctx,
    entry,
    tensors: [],
    names: new Set(),
    files: [file],
    warnings: [],
    skipped: [],
    mainOps: new Map(),
    mainNodes: 0,
    subgraphs: 0,
    subNodes: 0,
    subInitializers: 0,
    constantTensors: 0,
    sparse: 0,
  };
  let irVersion: number | undefined;
  let producer = '';
  let producerVersion = '';
  const opsets: { domain: string; version: number }[] = [];
  const metadata: Record<string, string> = {};
  let graphField: ProtoField | undefined;
  let functions = 0;

  for (let f = await root.next(); f; f = await root.next()) {
    switch (f.field) {
      case MODEL.ir_version:
        expectWire(f, WIRE_VARINT, file);
        irVersion = fieldSafeInt(f, file);
        break;
      case MODEL.producer_name:
        producer = await root.string(f, 1 << 16);
        break;
      case MODEL.producer_version:
        producerVersion = await root.string(f, 1 << 16);
        break;
      case MODEL.opset_import: {
        const m = await root.message(f, 1 << 16);
        let domain = '';
        let version = 0;
        for (let g = m.next(); g; g = m.next()) {
          if (g.field === 1) domain = m.string(g);
          else if (g.field === 2) {
            expectWire(g, WIRE_VARINT, file);
            version = fieldSafeInt(g, file);
          }
        }
        opsets.push({ domain: domain === '' ? 'ai.onnx' : domain, version });
        break;
      }
      case MODEL.metadata_props: {
        const m = await root.message(f, 1 << 20);
        let key = '';
        let value = '';
        for (let g = m.next(); g; g = m.next()) {
          if (g.field === 1) key = m.string(g);
          else if (g.field === 2) value = m.string(g);
        }
        metadata[key] = value;
        break;
      }
      case MODEL.graph:
        expectWire(f, WIRE_LEN, file);
        if (graphField) throw new FerryError('E_DUPLICATE', 'ModelProto has two graphs', { file, offset: f.tagOffset });
        graphField = f;
        break;
      case MODEL.functions:
        functions++;
        break;
      default:
        break;
    }
  }
  if (irVersion === undefined) throw new FerryError('E_HEADER', 'not an ONNX model: ModelProto.ir_version is missing', { file, offset: 0 });
  if (!graphField) throw new FerryError('E_HEADER', 'ONNX model has no graph', { file, offset: 0 });

  const g = await readGraph(root.sub(graphField), st, 0);
  const initNames = new Set(st.tensors.map((t) => t.name));
  // Models exported with keep_initializers_as_inputs list weights as inputs too: those are not real inputs.
  const inputs = g.inputs.filter((i) => !initNames.has(i.name));

  if (st.skipped.length) st.warnings.push(`skipped ${st.skipped.length} initializer(s) Ferry cannot represent: ${st.skipped.slice(0, 5).join('; ')}${st.skipped.length > 5 ? '; …' : ''}`);
  if (st.subgraphs) {
    st.warnings.push(
      `${st.subNodes} node(s) inside ${st.subgraphs} subgraph(s) (If/Loop/Scan bodies) are not counted in the op summary` +
        (st.subInitializers ? `; ${st.subInitializers} subgraph initializer(s) are listed with the weights` : ''),
    );
  }
  if (st.constantTensors) st.warnings.push(`${st.constantTensors} tensor(s) embedded in node attributes (Constant nodes) are not listed as weights`);
  if (st.sparse) st.warnings.push(`${st.sparse} sparse initializer(s) are not supported and were skipped`);
  if (functions) st.warnings.push(`${functions} model-local function(s) are not summarised`);

  const opCounts = [...st.mainOps.entries()].map(([op, count]) => ({ op, count })).sort((a, b) => b.count - a.count || a.op.localeCompare(b.op));
  const graph: GraphSummary = {
    producer: [producer, producerVersion].filter((s) => s !== '').join(' ') || undefined,
    irVersion,
    opsets,
    inputs,
    outputs: g.outputs,
    nodeCount: st.mainNodes,
    opCounts,
  };
  return {
    format: 'onnx',
    entry: file,
    files: st.files,
    tensors: st.tensors,
    metadata: Object.keys(metadata).length ? metadata : undefined,
    graph,
    warnings: st.warnings,
  };
}

async function readGraph(r: LazyProtoReader, st: GraphState, depth: number): Promise<{ inputs: OnnxValueInfo[]; outputs: OnnxValueInfo[] }> {
  const file = r.file;
  if (depth > MAX_DEPTH) throw new FerryError('E_PROTOBUF', 'subgraphs nested too deeply', { file, offset: r.start });
  const inputs: OnnxValueInfo[] = [];
  const outputs: OnnxValueInfo[] = [];
  for (let f = await r.next(); f; f = await r.next()) {
    switch (f.field) {
      case GRAPH.node:
        expectWire(f, WIRE_LEN, file);
        await readNode(r.sub(f), st, depth);
        break;
      case GRAPH.initializer: {
        expectWire(f, WIRE_LEN, file);
        throwIfAborted(st.ctx.signal, { file });
        const res = await readTensorProto(r.sub(f), { files: st.ctx.files, entry: st.entry.name });
        st.ctx.onProgress?.(f.offset + f.length, st.entry.size, file);
        if (res.kind === 'skipped') {
          st.skipped.push(`${res.name} (${res.reason})`);
          break;
        }
        const name = res.ref.name;
        if (st.names.has(name)) {
          if (depth === 0) throw new FerryError('E_DUPLICATE', `initializer '${name}' is declared twice`, { file, offset: f.tagOffset, tensor: name });
          st.warnings.push(`subgraph initializer '${name}' shadows another tensor of the same name and was skipped`);
          break;
        }
        st.names.add(name);
        st.tensors.push(res.ref);
        if (depth > 0) st.subInitializers++;
        if (res.externalFile && !st.files.includes(res.externalFile)) st.files.push(res.externalFile);
        break;
      }
      case GRAPH.sparse_initializer:
        st.sparse++;
        break;
      case GRAPH.input:
      case GRAPH.output:
        if (depth === 0) {
          const m = await r.message(f, 16 << 20);
          (f.field === GRAPH.input ? inputs : outputs).push(readValueInfo(m, depth));
        }
        break;
      default:
        break;
    }
  }
  return { inputs, outputs };
}

async function readNode(r: LazyProtoReader, st: GraphState, depth: number): Promise<void> {
  const file = r.file;
  let op = '';
  let domain = '';
  const attrs: ProtoField[] = [];
  for (let f = await r.next(); f; f = await r.next()) {
    if (f.field === NODE.op_type) op = await r.string(f, 1 << 16);
    else if (f.field === NODE.domain) domain = await r.string(f, 1 << 16);
    else if (f.field === NODE.attribute) {
      expectWire(f, WIRE_LEN, file);
      attrs.push(f);
    }
  }
  const key = domain === '' || domain === 'ai.onnx' ? op : `${domain}.${op}`;
  if (depth === 0) {
    st.mainNodes++;
    st.mainOps.set(key, (st.mainOps.get(key) ?? 0) + 1);
  } else st.subNodes++;
  for (const a of attrs) {
    const ar = r.sub(a);
    for (let f = await ar.next(); f; f = await ar.next()) {
      if (f.field === ATTR.g || f.field === ATTR.graphs) {
        expectWire(f, WIRE_LEN, file);
        st.subgraphs++;
        await readGraph(ar.sub(f), st, depth + 1);
      } else if (f.field === ATTR.t || f.field === ATTR.tensors || f.field === ATTR.sparse_tensor || f.field === ATTR.sparse_tensors) {
        st.constantTensors++;
      }
    }
  }
}

/** ValueInfoProto → name, element type and shape (dim_value → number, dim_param → string, unknown → '?'). */
export function readValueInfo(m: ProtoReader, depth = 0): OnnxValueInfo {
  let name = '';
  let dtype = 'unknown';
  let shape: (number | string)[] = [];
  for (let f = m.next(); f; f = m.next()) {
    if (f.field === 1) name = m.string(f);
    else if (f.field === 2) {
      expectWire(f, WIRE_LEN, m.file);
      ({ dtype, shape } = readType(m.message(f), depth));
    }
  }
  return { name, dtype, shape };
}

/** TypeProto → display dtype + shape. */
function readType(m: ProtoReader, depth: number): { dtype: string; shape: (number | string)[] } {
  if (depth > MAX_DEPTH) throw new FerryError('E_PROTOBUF', 'types nested too deeply', { file: m.file, offset: m.base });
  for (let f = m.next(); f; f = m.next()) {
    // 1 tensor_type, 8 sparse_tensor_type: { elem_type = 1, shape = 2 }
    if (f.field === 1 || f.field === 8) {
      expectWire(f, WIRE_LEN, m.file);
      const t = m.message(f);
      let dtype = 'unknown';
      const shape: (number | string)[] = [];
      for (let g = t.next(); g; g = t.next()) {
        if (g.field === 1) {
          expectWire(g, WIRE_VARINT, m.file);
          dtype = onnxTypeName(fieldInt32(g));
        } else if (g.field === 2) {
          expectWire(g, WIRE_LEN, m.file);
          const s = t.message(g);
          for (let d = s.next(); d; d = s.next()) {
            if (d.field !== 1) continue;
            expectWire(d, WIRE_LEN, m.file);
            const dm = s.message(d);
            let dim: number | string = '?';
            for (let x = dm.next(); x; x = dm.next()) {
              if (x.field === 1) {
                expectWire(x, WIRE_VARINT, m.file);
                dim = fieldSafeInt(x, m.file);
              } else if (x.field === 2) dim = dm.string(x);
            }
            shape.push(dim);
          }
        }
      }
      return { dtype: f.field === 8 ? `sparse(${dtype})` : dtype, shape };
    }
    // 4 sequence_type { elem_type = 1 }, 9 optional_type { elem_type = 1 }
    if (f.field === 4 || f.field === 9) {
      expectWire(f, WIRE_LEN, m.file);
      const t = m.message(f);
      let inner = { dtype: 'unknown', shape: [] as (number | string)[] };
      for (let g = t.next(); g; g = t.next()) if (g.field === 1) inner = readType(t.message(g), depth + 1);
      return { dtype: `${f.field === 4 ? 'sequence' : 'optional'}(${inner.dtype})`, shape: inner.shape };
    }
    if (f.field === 5) return { dtype: 'map', shape: [] };
  }
  return { dtype: 'unknown', shape: [] };
}
