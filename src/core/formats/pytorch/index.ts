import { FerryError, throwIfAborted } from '../../errors.js';
import type { ByteSource } from '../../io/source.js';
import { readText } from '../../io/source.js';
import { BinaryReader } from '../../io/reader.js';
import { firstEntryName, isZipHead, localNamesInHead, openZip, readZipEntry, ZIP_STORED, zipEntrySpan } from '../../io/zip.js';
import type { ZipArchive, ZipEntry } from '../../io/zip.js';
import type { DType } from '../../ir/dtype.js';
import { DTYPES, numelOf } from '../../ir/dtype.js';
import type { ByteSpan, Checkpoint, TensorRef } from '../../ir/checkpoint.js';
import type { FormatReader, ReadContext } from '../types.js';
import { describe, dictGet, isDict, isGlobal, isList, isPyObject, isTuple, qualname, unpickle } from './pickle.js';
import type { PickleOptions, PyGlobal, PyObject, PyValue } from './pickle.js';
import { gatherStrided, isContiguous, viewExtent } from '../../ir/strided.js';

export { unpickle, ALLOWED_GLOBALS, isAllowedGlobal } from './pickle.js';
export type { PyValue } from './pickle.js';

/**
 * PyTorch checkpoints: the zip format (torch ≥ 1.6: `<prefix>/data.pkl` + `<prefix>/data/<key>` storages),
 * the legacy non-zip format (`_use_new_zipfile_serialization=False`), and HF shard indexes
 * (`pytorch_model.bin.index.json`). The pickle is interpreted by the allow-listed VM in pickle.ts.
 *
 * Naming rule: the unpickled object is flattened to dotted paths. Dict keys and list/tuple indices are joined
 * with '.', so a plain state_dict keeps its keys exactly (`encoder.weight`) and a wrapped one is prefixed by
 * its container keys (`state_dict.encoder.weight`, `optimizer.state.0.exp_avg`). A bare tensor is named
 * `tensor`. Non-tensor leaves (ints, strings, None, …) are skipped with one summarising warning.
 */

/** Legacy torch.save magic number (torch/serialization.py MAGIC_NUMBER). */
const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL_VERSION = 1001;
/** How a legacy file starts: PROTO 2, LONG1 with 10 bytes, then the magic number little-endian. */
const LEGACY_HEAD = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];
const INDEX_SUFFIX = '.bin.index.json';
const MAX_DEPTH = 64;
const MAX_VISITS = 5_000_000;

const STORAGE_DTYPES: Record<string, DType> = {
  FloatStorage: 'F32',
  DoubleStorage: 'F64',
  HalfStorage: 'F16',
  BFloat16Storage: 'BF16',
  LongStorage: 'I64',
  IntStorage: 'I32',
  ShortStorage: 'I16',
  CharStorage: 'I8',
  ByteStorage: 'U8',
  BoolStorage: 'BOOL',
  ComplexFloatStorage: 'C64',
  ComplexDoubleStorage: 'C128',
  UntypedStorage: 'U8',
  Float8_e4m3fnStorage: 'F8_E4M3',
  Float8_e5m2Storage: 'F8_E5M2',
};

/** Storage as stored in the file (one zip entry / one legacy record). Filled in after the pickle is read. */
interface RootStorage {
  key: string;
  dtype: DType;
  /** Elements declared by the pickle. */
  numel: number;
  span?: ByteSpan | undefined;
  /** Inflated bytes (deflated zip entries only). */
  bytes?: Uint8Array | undefined;
  bigEndian: boolean;
  /** Offset of the persistent id that declared it (for errors). */
  declaredAt: number;
}

/** What persistent_load returns: a (view of a) root storage, in elements of the root's dtype. */
interface StorageRef {
  kind: 'storage';
  root: RootStorage;
  offset: number;
  numel: number;
}

interface TensorInfo {
  kind: 'tensor';
  storage: StorageRef;
  storageOffset: number;
  shape: number[];
  strides: number[];
  at: number;
}

function elemSize(d: DType): number {
  return DTYPES[d].bits / 8;
}

function isTensor(v: PyValue): v is PyObject & { native: TensorInfo } {
  return isPyObject(v) && (v.native as { kind?: string } | undefined)?.kind === 'tensor';
}

function storageObj(cls: PyGlobal, ref: StorageRef): PyObject {
  return { $: 'object', cls, args: [], native: ref };
}

function isStorage(v: PyValue | undefined): v is PyObject & { native: StorageRef } {
  return v !== undefined && isPyObject(v) && (v.native as { kind?: string } | undefined)?.kind === 'storage';
}

function intList(v: PyValue | undefined, what: string, file: string, at: number): number[] {
  if (v === undefined || !(isTuple(v) || isList(v))) throw new FerryError('E_PICKLE', `${what} must be a tuple of ints, got ${describe(v)}`, { file, offset: at });
  if (v.items.length > 64) throw new FerryError('E_LIMIT', `${what} has ${v.items.length} dimensions`, { file, offset: at });
  return v.items.map((x) => nonNegInt(x, what, file, at));
}

function nonNegInt(x: PyValue | undefined, what: string, file: string, at: number): number {
  if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0) {
    throw new FerryError('E_PICKLE', `${what} must be a non-negative integer, got ${describe(x)}`, { file, offset: at });
  }
  return x;
}

function strOf(v: PyValue | undefined): string | undefined {
  if (typeof v === 'string') return v;
  if (v instanceof Uint8Array) return new TextDecoder('ascii').decode(v);
  return undefined;
}

/** Reducers for the torch rebuild helpers: they build TensorInfo records, nothing else. */
function torchReducers(file: string): NonNullable<PickleOptions['reducers']> {
  const rebuildTensor = (args: PyValue[], at: number): PyValue => {
    const [storage, offset, size, stride] = args;
    if (!isStorage(storage)) throw new FerryError('E_PICKLE', `_rebuild_tensor expects a storage, got ${describe(storage)}`, { file, offset: at });
    const shape = intList(size, 'tensor size', file, at);
    const strides = intList(stride, 'tensor stride', file, at);
    if (shape.length !== strides.length) throw new FerryError('E_PICKLE', `size ${JSON.stringify(shape)} and stride ${JSON.stringify(strides)} differ in rank`, { file, offset: at });
    const info: TensorInfo = { kind: 'tensor', storage: storage.native, storageOffset: nonNegInt(offset, 'storage offset', file, at), shape, strides, at };
    return { $: 'object', cls: { $: 'global', module: 'torch', name: 'Tensor' }, args: [], native: info };
  };
  const reducers: NonNullable<PickleOptions['reducers']> = {
    'torch._utils._rebuild_tensor': rebuildTensor,
    'torch._utils._rebuild_tensor_v2': rebuildTensor,
    'torch._utils._rebuild_parameter': (args) => args[0] ?? null,
    'torch._utils._rebuild_parameter_with_state': (args) => args[0] ?? null,
    'torch._tensor._rebuild_from_type_v2': (args, at) => {
      const [fn, , fnArgs] = args;
      const inner = isGlobal(fn ?? null) ? reducers[qualname(fn as PyGlobal)] : undefined;
      if (inner && fnArgs !== undefined && isTuple(fnArgs)) return inner(fnArgs.items, at);
      return { $: 'object', cls: { $: 'global', module: 'torch._tensor', name: '_rebuild_from_type_v2' }, args };
    },
  };
  return reducers;
}

/** Result of reading one pickle-based file: named tensors plus warnings. */
interface ReadResult {
  tensors: TensorRef[];
  warnings: string[];
}

export const pytorchReader: FormatReader = {
  id: 'pytorch',
  label: 'PyTorch',
  extensions: ['.bin', '.pt', '.pth', '.ckpt', INDEX_SUFFIX],
  sniff(head: Uint8Array, name: string): 0 | 1 | 2 {
    const lower = name.toLowerCase();
    if (isZipHead(head)) {
      const first = firstEntryName(head);
      if (first !== undefined && first.endsWith('.npy')) return 0; // an .npz
      // data.pkl is torch's first record, but newer torch may put small records (byteorder, version) first
      if (localNamesInHead(head).some((n) => n === 'data.pkl' || n.endsWith('/data.pkl'))) return 2;
    } else if (isLegacyHead(head)) return 2;
    if (lower.endsWith('pytorch_model.bin.index.json') || lower.endsWith(INDEX_SUFFIX)) return 1;
    if (/\.(bin|pt|pth|ckpt)$/.test(lower)) {
      if (isZipHead(head)) {
        const first = firstEntryName(head);
        return first !== undefined && first.toLowerCase().endsWith('.npy') ? 0 : 1;
      }
      if (head[0] === 0x80) return 1;
    }
    return 0;
  },
  async read(entry: ByteSource, ctx: ReadContext): Promise<Checkpoint> {
    throwIfAborted(ctx.signal, { file: entry.name });
    if (entry.name.toLowerCase().endsWith('.index.json')) return readShardedPytorch(entry, ctx);
    const res = await readPytorchFile(entry);
    ctx.onProgress?.(1, 1, entry.name);
    return { format: 'pytorch', entry: entry.name, files: [entry.name], tensors: res.tensors, warnings: res.warnings };
  },
};

function isLegacyHead(head: Uint8Array): boolean {
  if (head.length < LEGACY_HEAD.length) return false;
  return LEGACY_HEAD.every((b, i) => head[i] === b);
}

/** Read one PyTorch file (zip or legacy) into named TensorRefs. */
export async function readPytorchFile(src: ByteSource): Promise<ReadResult> {
  const head = await src.read(0, Math.min(src.size, 64));
  if (isZipHead(head)) return readZipCheckpoint(src);
  if (src.size >= 262 && (await src.read(257, 5)).every((b, i) => b === 'ustar'.charCodeAt(i))) {
    throw new FerryError('E_UNSUPPORTED', 'this is the pre-0.4 tar-based torch.save format, which Ferry does not read', { file: src.name, offset: 257 });
  }
  // Anything else is tried as a legacy torch.save pickle stream: the VM refuses disallowed globals (also in
  // protocol-0 pickles, which have no PROTO header) and a stream that is not a pickle fails on its first opcodes.
  return readLegacyCheckpoint(src);
}

// ---------------------------------------------------------------- zip format

async function readZipCheckpoint(src: ByteSource): Promise<ReadResult> {
  const file = src.name;
  const zip = await openZip(src);
  const pkls = zip.entries.filter((e) => e.name === 'data.pkl' || e.name.endsWith('/data.pkl'));
  pkls.sort((a, b) => a.name.split('/').length - b.name.split('/').length);
  const pkl = pkls[0];
  if (!pkl) {
    const npy = zip.entries.some((e) => e.name.endsWith('.npy'));
    throw new FerryError('E_BAD_MAGIC', npy ? 'this zip holds .npy arrays (an .npz), not a PyTorch checkpoint' : 'zip archive without a data.pkl: not a torch.save checkpoint', {
      file,
      offset: 0,
    });
  }
  const prefix = pkl.name.slice(0, pkl.name.length - 'data.pkl'.length);
  let bigEndian = false;
  const bo = zip.get(`${prefix}byteorder`);
  if (bo) {
    const text = new TextDecoder().decode(await readZipEntry(zip, bo, 64)).trim();
    if (text === 'big') bigEndian = true;
    else if (text !== 'little') throw new FerryError('E_HEADER', `byteorder record says '${text.slice(0, 20)}' (expected 'little' or 'big')`, { file, offset: bo.localHeaderOffset });
  }
  const pklBytes = await readZipEntry(zip, pkl, Math.min(1 << 30, Math.max(src.size, 1) * 1100));
  const pklBase = pkl.method === ZIP_STORED ? (await zipEntrySpan(zip, pkl)).offset : 0;
  const roots = new Map<string, RootStorage>();
  const reducers = torchReducers(file);
  const { value } = unpickle(pklBytes, {
    file,
    base: pklBase,
    reducers,
    persistentLoad: (pid, at) => {
      if (!isTuple(pid) || pid.items.length < 5) throw new FerryError('E_PICKLE', `persistent id must be ('storage', type, key, location, numel), got ${describe(pid)}`, { file, offset: at });
      const [tag, type, keyV, , numelV] = pid.items;
      if (strOf(tag) !== 'storage') throw new FerryError('E_PICKLE', `unknown persistent id type ${describe(tag ?? null)}`, { file, offset: at });
      const key = strOf(keyV) ?? (typeof keyV === 'number' ? String(keyV) : undefined);
      if (key === undefined) throw new FerryError('E_PICKLE', `storage key must be a string, got ${describe(keyV)}`, { file, offset: at });
      const cls = storageClass(type, file, at);
      const numel = nonNegInt(numelV, 'storage numel', file, at);
      const root = declareRoot(roots, key, cls, numel, bigEndian, file, at);
      return storageObj(cls.g, { kind: 'storage', root, offset: 0, numel });
    },
  });
  // Locate every referenced storage (local headers are read only now, once per storage).
  for (const root of roots.values()) {
    const name = `${prefix}data/${root.key}`;
    const e = zip.get(name);
    if (!e) throw new FerryError('E_MISSING_FILE', `the pickle references storage '${root.key}' but the archive has no '${name}'`, { file, offset: root.declaredAt });
    const need = root.numel * elemSize(root.dtype);
    if (e.uncompressedSize < need) {
      throw new FerryError('E_TRUNCATED', `storage '${name}' holds ${e.uncompressedSize} bytes but the pickle declares ${root.numel} × ${elemSize(root.dtype)}`, {
        file,
        offset: e.localHeaderOffset,
      });
    }
    await attachZipStorage(zip, e, root, need);
  }
  const warnings: string[] = [];
  if (zip.entries.some((e) => e.method !== ZIP_STORED && e.name.startsWith(`${prefix}data/`))) warnings.push('deflated storages were inflated into memory');
  if (bigEndian) warnings.push('big-endian checkpoint: tensors are byteswapped when read');
  return { tensors: buildTensors(value, file, warnings), warnings };
}

async function attachZipStorage(zip: ZipArchive, e: ZipEntry, root: RootStorage, need: number): Promise<void> {
  if (e.method === ZIP_STORED) {
    const span = await zipEntrySpan(zip, e);
    root.span = { ...span, length: need };
  } else {
    root.bytes = (await readZipEntry(zip, e)).subarray(0, need);
  }
}

function storageClass(type: PyValue | undefined, file: string, at: number): { g: PyGlobal; dtype: DType } {
  if (type === undefined || !isGlobal(type)) throw new FerryError('E_PICKLE', `storage type must be a torch storage class, got ${describe(type)}`, { file, offset: at });
  const dtype = type.module === 'torch' ? STORAGE_DTYPES[type.name] : undefined;
  if (!dtype) throw new FerryError('E_DTYPE', `unsupported storage type ${qualname(type)}`, { file, offset: at });
  return { g: type, dtype };
}

function declareRoot(roots: Map<string, RootStorage>, key: string, cls: { dtype: DType }, numel: number, bigEndian: boolean, file: string, at: number): RootStorage {
  const prev = roots.get(key);
  if (prev) {
    if (prev.dtype !== cls.dtype || prev.numel !== numel) {
      throw new FerryError('E_PICKLE', `storage '${key}' is declared as ${prev.dtype}×${prev.numel} and as ${cls.dtype}×${numel}`, { file, offset: at });
    }
    return prev;
  }
  const root: RootStorage = { key, dtype: cls.dtype, numel, bigEndian, declaredAt: at };
  roots.set(key, root);
  return root;
}

// ---------------------------------------------------------------- legacy format

/**
 * Run one pickle starting at `offset`, reading a growing window of the file (never more than the pickle needs
 * plus the last doubling). Returns its value and absolute end offset.
 */
async function pickleAt(src: ByteSource, offset: number, opts: (base: number) => PickleOptions): Promise<{ value: PyValue; end: number }> {
  const remaining = src.size - offset;
  if (remaining <= 0) throw new FerryError('E_TRUNCATED', 'the file ends where a pickle should start', { file: src.name, offset: Math.min(offset, src.size) });
  let len = Math.min(remaining, 64 << 10);
  for (;;) {
    const bytes = await src.read(offset, len);
    try {
      const r = unpickle(bytes, opts(offset));
      return { value: r.value, end: offset + r.end };
    } catch (e) {
      if (e instanceof FerryError && e.code === 'E_TRUNCATED' && len < remaining) {
        const next = Math.min(remaining, len * 4, 1 << 30);
        if (next === len) throw e;
        len = next;
        continue;
      }
      throw e;
    }
  }
}

async function readLegacyCheckpoint(src: ByteSource): Promise<ReadResult> {
  const file = src.name;
  const plain = (base: number): PickleOptions => ({ file, base });
  let magic: { value: PyValue; end: number };
  try {
    magic = await pickleAt(src, 0, plain);
  } catch (e) {
    if (e instanceof FerryError && e.code === 'E_PICKLE' && e.offset === 0) {
      throw new FerryError('E_BAD_MAGIC', 'not a PyTorch checkpoint: neither a zip archive nor a torch.save pickle', { file, offset: 0 });
    }
    throw e;
  }
  if (magic.value !== LEGACY_MAGIC) {
    throw new FerryError('E_BAD_MAGIC', `a pickle, but not a torch.save file (magic ${describe(magic.value)})`, { file, offset: 0 });
  }
  const proto = await pickleAt(src, magic.end, plain);
  if (proto.value !== LEGACY_PROTOCOL_VERSION) {
    throw new FerryError('E_UNSUPPORTED', `legacy torch.save protocol version ${describe(proto.value)} (expected ${LEGACY_PROTOCOL_VERSION})`, { file, offset: magic.end });
  }
  const sys = await pickleAt(src, proto.end, plain);
  let littleEndian = true;
  if (isDict(sys.value)) {
    const le = dictGet(sys.value, 'little_endian');
    if (le === false) littleEndian = false;
  } else throw new FerryError('E_PICKLE', `legacy sys_info must be a dict, got ${describe(sys.value)}`, { file, offset: proto.end });

  const views = new Map<string, StorageRef>();
  let roots0 = new Map<string, RootStorage>();
  const main = await pickleAt(src, sys.end, (base) => {
    // fresh state on every retry with a bigger window
    roots0 = new Map();
    views.clear();
    return {
      file,
      base,
      reducers: torchReducers(file),
      persistentLoad: (pid, at) => {
        if (!isTuple(pid) || pid.items.length < 1) throw new FerryError('E_PICKLE', `persistent id must be a tuple, got ${describe(pid)}`, { file, offset: at });
        const tag = strOf(pid.items[0]);
        if (tag === 'module') {
          return { $: 'object', cls: { $: 'global', module: 'torch.nn', name: 'Module' }, args: [] };
        }
        if (tag !== 'storage' || pid.items.length < 6) throw new FerryError('E_PICKLE', `unknown persistent id ${describe(pid)}`, { file, offset: at });
        const [, type, keyV, , numelV, viewMeta] = pid.items;
        const key = strOf(keyV);
        if (key === undefined) throw new FerryError('E_PICKLE', `storage key must be a string, got ${describe(keyV)}`, { file, offset: at });
        const cls = storageClass(type, file, at);
        const numel = nonNegInt(numelV, 'storage numel', file, at);
        const root = declareRoot(roots0, key, cls, numel, false, file, at);
        if (viewMeta === null || viewMeta === undefined) return storageObj(cls.g, { kind: 'storage', root, offset: 0, numel });
        if (!isTuple(viewMeta) || viewMeta.items.length !== 3) throw new FerryError('E_PICKLE', `bad storage view metadata ${describe(viewMeta)}`, { file, offset: at });
        const [vkV, offV, sizeV] = viewMeta.items;
        const vk = strOf(vkV) ?? '';
        const existing = views.get(vk);
        if (existing) return storageObj(cls.g, existing);
        const off = nonNegInt(offV, 'view offset', file, at);
        const size = nonNegInt(sizeV, 'view size', file, at);
        if (off + size > numel) throw new FerryError('E_OFFSETS', `storage view [${off}, +${size}) exceeds its storage of ${numel} elements`, { file, offset: at });
        const ref: StorageRef = { kind: 'storage', root, offset: off, numel: size };
        views.set(vk, ref);
        return storageObj(cls.g, ref);
      },
    };
  });
  const keys = await pickleAt(src, main.end, plain);
  if (!isList(keys.value)) throw new FerryError('E_PICKLE', `legacy storage key list must be a list, got ${describe(keys.value)}`, { file, offset: main.end });
  let at = keys.end;
  for (const kv of keys.value.items) {
    const key = strOf(kv);
    const root = key === undefined ? undefined : roots0.get(key);
    if (!root) throw new FerryError('E_PICKLE', `storage key ${describe(kv)} is listed but no tensor uses it`, { file, offset: keys.end });
    const r = new BinaryReader(await src.read(at, 8), file, at);
    const numelBig = littleEndian ? r.u64big() : new DataView(r.bytes.buffer, r.bytes.byteOffset, 8).getBigUint64(0, false);
    if (numelBig !== BigInt(root.numel)) {
      throw new FerryError('E_HEADER', `storage '${key ?? ''}' record says ${numelBig} elements but the pickle declared ${root.numel}`, { file, offset: at });
    }
    const len = root.numel * elemSize(root.dtype);
    if (at + 8 + len > src.size) {
      throw new FerryError('E_TRUNCATED', `storage '${key ?? ''}' needs bytes up to ${at + 8 + len} but the file has ${src.size}`, { file, offset: at });
    }
    // torch writes legacy storage data little-endian on every host (THPStorage_writeFileRaw)
    root.span = { file, offset: at + 8, length: len };
    at += 8 + len;
  }
  for (const root of roots0.values()) {
    if (!root.span) throw new FerryError('E_PICKLE', `storage '${root.key}' is used by a tensor but not in the storage key list`, { file, offset: root.declaredAt });
  }
  const warnings = ['legacy (pre-1.6, non-zip) torch.save format'];
  return { tensors: buildTensors(main.value, file, warnings), warnings };
}

// ---------------------------------------------------------------- flattening

function keySegment(k: PyValue): string | undefined {
  if (typeof k === 'string') return k;
  if (typeof k === 'number' || typeof k === 'bigint') return String(k);
  if (typeof k === 'boolean') return k ? 'True' : 'False';
  if (k instanceof Uint8Array) return new TextDecoder().decode(k);
  return undefined;
}

/** Flatten the unpickled object to named TensorRefs (see the naming rule at the top of this file). */
function buildTensors(root: PyValue, file: string, warnings: string[]): TensorRef[] {
  const found: { name: string; info: TensorInfo }[] = [];
  const skipped: string[] = [];
  const onPath = new Set<object>();
  let visits = 0;
  const walk = (v: PyValue, path: string[], depth: number): void => {
    if (++visits > MAX_VISITS) throw new FerryError('E_LIMIT', `the checkpoint object graph has more than ${MAX_VISITS} nodes`, { file });
    if (depth > MAX_DEPTH) throw new FerryError('E_LIMIT', `containers nested deeper than ${MAX_DEPTH} levels`, { file, tensor: path.join('.') });
    if (isTensor(v)) {
      found.push({ name: path.length ? path.join('.') : 'tensor', info: v.native });
      return;
    }
    const container = isDict(v) || isList(v) || isTuple(v);
    if (!container) {
      skipped.push(path.length ? path.join('.') : '(root)');
      return;
    }
    if (onPath.has(v)) {
      skipped.push(`${path.join('.')} (cycle)`);
      return;
    }
    onPath.add(v);
    if (isDict(v)) {
      v.keys.forEach((k, i) => {
        const seg = keySegment(k);
        if (seg === undefined) skipped.push(`${[...path, describe(k)].join('.')}`);
        else walk(v.values[i] as PyValue, [...path, seg], depth + 1);
      });
    } else {
      v.items.forEach((x, i) => walk(x, [...path, String(i)], depth + 1));
    }
    onPath.delete(v);
  };
  walk(root, [], 0);
  if (skipped.length) {
    const shown = skipped.slice(0, 8).join(', ');
    warnings.push(`skipped ${skipped.length} non-tensor entr${skipped.length === 1 ? 'y' : 'ies'}: ${shown}${skipped.length > 8 ? ', …' : ''}`);
  }
  const seen = new Set<string>();
  const tensors: TensorRef[] = [];
  const groups = new Map<string, TensorRef[]>();
  for (const { name, info } of found) {
    if (seen.has(name)) throw new FerryError('E_DUPLICATE', `two tensors flatten to the name '${name}'`, { file, tensor: name });
    seen.add(name);
    const ref = tensorRef(name, info, file);
    tensors.push(ref);
    const id = [info.storage.root.key, info.storage.offset + info.storageOffset, info.shape.join(','), info.strides.join(','), info.storage.root.dtype].join('|');
    const g = groups.get(id);
    if (g) g.push(ref);
    else groups.set(id, [ref]);
  }
  for (const g of groups.values()) {
    if (g.length < 2) continue;
    for (const t of g) t.aliases = g.filter((o) => o !== t).map((o) => o.name);
  }
  return tensors;
}

function tensorRef(name: string, info: TensorInfo, file: string): TensorRef {
  const { storage, shape, strides } = info;
  const root = storage.root;
  const dtype = root.dtype;
  const es = elemSize(dtype);
  const complex = DTYPES[dtype].kind === 'complex';
  const numel = numelOf(shape);
  const where = { file, offset: info.at, tensor: name };
  if (!Number.isSafeInteger(numel * es)) throw new FerryError('E_LIMIT', `tensor of shape ${JSON.stringify(shape)} is too large`, where);
  const offset = info.storageOffset;
  if (numel > 0) {
    const { lo, hi } = viewExtent(offset, shape, strides);
    if (lo < 0 || hi >= storage.numel) {
      throw new FerryError('E_OFFSETS', `view [offset ${offset}, shape ${JSON.stringify(shape)}, strides ${JSON.stringify(strides)}] reaches outside its storage of ${storage.numel} elements`, where);
    }
  }
  if (root.bytes) {
    const view = root.bytes.subarray(storage.offset * es, (storage.offset + storage.numel) * es);
    const bytes = gatherStrided(view, es, shape, strides, offset, false, { file, tensor: name });
    if (root.bigEndian) swapInPlace(bytes, complex ? es / 2 : es);
    return { name, dtype, shape, data: { kind: 'inline', bytes } };
  }
  const span = root.span;
  if (!span) throw new FerryError('E_INTERNAL', `storage '${root.key}' has no data location`, where);
  if (root.bigEndian && complex) throw new FerryError('E_UNSUPPORTED', 'big-endian complex tensors are not supported', where);
  const base = span.offset + storage.offset * es;
  if (numel === 0 || isContiguous(shape, strides)) {
    return {
      name,
      dtype,
      shape,
      data: { kind: 'spans', spans: [{ file: span.file, offset: base + offset * es, length: numel * es }], encoding: root.bigEndian && es > 1 ? { kind: 'byteswap' } : { kind: 'raw' } },
    };
  }
  return {
    name,
    dtype,
    shape,
    data: {
      kind: 'spans',
      spans: [{ file: span.file, offset: base, length: storage.numel * es }],
      encoding: root.bigEndian && es > 1 ? { kind: 'strided', storageOffset: offset, strides, bigEndian: true } : { kind: 'strided', storageOffset: offset, strides },
    },
  };
}

function swapInPlace(b: Uint8Array, width: number): void {
  if (width <= 1) return;
  for (let i = 0; i + width <= b.length; i += width) b.subarray(i, i + width).reverse();
}

// ---------------------------------------------------------------- shards

/**
 * `pytorch_model.bin.index.json`: {"metadata": {...}, "weight_map": {name: shard}}. Each shard is read once;
 * tensors come out in weight_map order and must match the shards exactly.
 */
async function readShardedPytorch(entry: ByteSource, ctx: ReadContext): Promise<Checkpoint> {
  const file = entry.name;
  const text = await readText(entry, 64 << 20);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new FerryError('E_JSON', `invalid JSON: ${(e as Error).message}`, { file });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new FerryError('E_INDEX', 'a shard index must be a JSON object {metadata, weight_map}', { file });
  const wm = (parsed as Record<string, unknown>).weight_map;
  if (typeof wm !== 'object' || wm === null || Array.isArray(wm)) throw new FerryError('E_INDEX', "the index has no 'weight_map' object", { file });
  const weightMap = wm as Record<string, unknown>;
  const names = Object.keys(weightMap);
  const shards: string[] = [];
  for (const n of names) {
    const s = weightMap[n];
    if (typeof s !== 'string' || s === '') throw new FerryError('E_INDEX', `weight_map['${n}'] must be a shard file name`, { file, tensor: n });
    if (!shards.includes(s)) shards.push(s);
  }
  const byName = new Map<string, TensorRef>();
  const files: string[] = [];
  const warnings: string[] = [];
  let done = 0;
  for (const shard of shards) {
    throwIfAborted(ctx.signal, { file });
    const src = ctx.files.resolve(file, shard);
    if (!src) throw new FerryError('E_MISSING_FILE', `shard '${shard}' is listed in the index but was not provided; add it next to ${file}`, { file });
    const res = await readPytorchFile(src);
    files.push(src.name);
    for (const w of res.warnings) warnings.push(`${shard}: ${w}`);
    for (const t of res.tensors) {
      const listed = weightMap[t.name];
      if (listed === undefined) throw new FerryError('E_INDEX', `shard holds tensor '${t.name}' that the index's weight_map does not list`, { file: src.name, tensor: t.name });
      if (listed !== shard) throw new FerryError('E_INDEX', `the index puts '${t.name}' in '${String(listed)}' but it is (also) in '${shard}'`, { file: src.name, tensor: t.name });
      byName.set(t.name, t);
    }
    ctx.onProgress?.(++done, shards.length, src.name);
  }
  const tensors = names.map((n) => {
    const t = byName.get(n);
    if (!t) throw new FerryError('E_INDEX', `the index maps '${n}' to '${String(weightMap[n])}' but that shard does not hold it`, { file, tensor: n });
    return t;
  });
  return { format: 'pytorch', entry: file, files, tensors, warnings };
}

