import { FerryError } from '../../errors.js';
import { BinaryReader, UTF8 } from '../../io/reader.js';

/**
 * A pickle *interpreter* (protocols 0–5) that never executes anything. It builds plain values; globals are
 * resolved against an allow-list of inert names (torch rebuild helpers, storage classes, dtypes,
 * OrderedDict, a few builtins and numpy reconstructors). Any other global is refused with E_PICKLE_GLOBAL the
 * moment its GLOBAL / STACK_GLOBAL / INST opcode is read. REDUCE / NEWOBJ / BUILD on allowed globals build
 * descriptive values (`PyObject`) that the PyTorch reader interprets; nothing is ever called.
 */

export type PyValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | PyTuple
  | PyList
  | PyDict
  | PySet
  | PyGlobal
  | PyObject
  | PyComplex;

export interface PyTuple {
  $: 'tuple';
  items: PyValue[];
}
export interface PyList {
  $: 'list';
  items: PyValue[];
}
export interface PyDict {
  $: 'dict';
  /** Insertion order; a repeated key replaces the earlier value in place (Python semantics). */
  keys: PyValue[];
  values: PyValue[];
  /** BUILD state applied to the dict (e.g. state_dict `_metadata`), kept but not interpreted. */
  state?: PyValue;
}
export interface PySet {
  $: 'set';
  items: PyValue[];
  frozen: boolean;
}
export interface PyComplex {
  $: 'complex';
  re: number;
  im: number;
}
/** A reference to an allow-listed global (never resolved to anything executable). */
export interface PyGlobal {
  $: 'global';
  module: string;
  name: string;
}
/**
 * The result of calling / instantiating an allowed global: `cls(*args)` (REDUCE, NEWOBJ, INST, OBJ) plus
 * optional BUILD state. `persistent` holds what `persistent_load` returned (a storage record).
 */
export interface PyObject {
  $: 'object';
  cls: PyGlobal;
  args: PyValue[];
  kwargs?: PyDict | undefined;
  state?: PyValue;
  /** Opaque payload from persistent_load or from the reader's own reducers. */
  native?: unknown;
}

export interface PickleOptions {
  file: string;
  /** Absolute file offset of bytes[0] (for error offsets). */
  base?: number;
  /** Called for PERSID / BINPERSID (torch storages). Its return value is pushed. Default: refuse. */
  persistentLoad?: (pid: PyValue, offset: number) => PyValue;
  /**
   * Extra reducers: `module.name` → build a value from REDUCE args. Globals named here must also be allowed.
   * Reducers only build plain data; they are part of Ferry, not of the file.
   */
  reducers?: Record<string, (args: PyValue[], offset: number) => PyValue>;
  /** Extra allowed globals (exact `module.name`). */
  allow?: readonly string[];
  /** Ops limit (default 50M). */
  maxOps?: number;
}

export interface PickleResult {
  value: PyValue;
  /** Offset (relative to bytes[0]) just past the STOP opcode. */
  end: number;
}

const MAX_STACK = 1 << 20;
const MAX_MEMO = 1 << 22;
const MAX_MARKS = 1 << 16;
const MAX_LONG_BYTES = 1 << 12;

const TORCH_STORAGES = [
  'FloatStorage', 'DoubleStorage', 'HalfStorage', 'BFloat16Storage', 'LongStorage', 'IntStorage', 'ShortStorage',
  'CharStorage', 'ByteStorage', 'BoolStorage', 'ComplexFloatStorage', 'ComplexDoubleStorage', 'UntypedStorage',
  'Float8_e4m3fnStorage', 'Float8_e5m2Storage', 'QInt8Storage', 'QUInt8Storage', 'QInt32Storage', 'QUInt4x2Storage', 'QUInt2x4Storage',
];
const TORCH_DTYPES = [
  'float16', 'half', 'float32', 'float', 'float64', 'double', 'bfloat16', 'int8', 'uint8', 'int16', 'short', 'int32', 'int',
  'int64', 'long', 'bool', 'complex64', 'cfloat', 'complex128', 'cdouble', 'float8_e4m3fn', 'float8_e5m2', 'uint16', 'uint32', 'uint64',
];

/** Every global the VM accepts. All are inert: they only tag the values built from them. */
export const ALLOWED_GLOBALS: ReadonlySet<string> = new Set([
  'torch._utils._rebuild_tensor',
  'torch._utils._rebuild_tensor_v2',
  'torch._utils._rebuild_parameter',
  'torch._utils._rebuild_parameter_with_state',
  'torch._tensor._rebuild_from_type_v2',
  'torch.Tensor',
  'torch.nn.parameter.Parameter',
  'torch.Size',
  'torch.device',
  'torch.storage._load_from_bytes',
  ...TORCH_STORAGES.map((s) => `torch.${s}`),
  ...TORCH_DTYPES.map((d) => `torch.${d}`),
  'collections.OrderedDict',
  'builtins.set', 'builtins.frozenset', 'builtins.slice', 'builtins.bytearray', 'builtins.complex',
  '__builtin__.set', '__builtin__.frozenset', '__builtin__.slice', '__builtin__.bytearray', '__builtin__.complex',
  '_codecs.encode',
  'numpy.core.multiarray._reconstruct', 'numpy._core.multiarray._reconstruct',
  'numpy.core.multiarray.scalar', 'numpy._core.multiarray.scalar',
  'numpy.ndarray', 'numpy.dtype',
]);

/** Is `module.name` on the allow-list? */
export function isAllowedGlobal(qualified: string, extra: readonly string[] = []): boolean {
  return ALLOWED_GLOBALS.has(qualified) || extra.includes(qualified);
}

const MARK = Symbol('mark');
type StackItem = PyValue | typeof MARK;

export function tuple(items: PyValue[]): PyTuple {
  return { $: 'tuple', items };
}

function isObj(v: PyValue, $: string): boolean {
  return typeof v === 'object' && v !== null && !(v instanceof Uint8Array) && (v as { $: string }).$ === $;
}
export function isTuple(v: PyValue): v is PyTuple {
  return isObj(v, 'tuple');
}
export function isList(v: PyValue): v is PyList {
  return isObj(v, 'list');
}
export function isDict(v: PyValue): v is PyDict {
  return isObj(v, 'dict');
}
export function isGlobal(v: PyValue): v is PyGlobal {
  return isObj(v, 'global');
}
export function isPyObject(v: PyValue): v is PyObject {
  return isObj(v, 'object');
}
export function qualname(g: PyGlobal): string {
  return `${g.module}.${g.name}`;
}

/** Key identity for dict lookups (only hashable scalar keys and tuples of them are deduplicated). */
function keyId(k: PyValue): string | undefined {
  if (k === null) return 'N';
  switch (typeof k) {
    case 'string':
      return `s${k}`;
    case 'number':
      return `n${k}`;
    case 'bigint':
      return `n${k}`;
    case 'boolean':
      return `n${k ? 1 : 0}`;
  }
  if (isTuple(k)) {
    const parts: string[] = [];
    for (const x of k.items) {
      const id = keyId(x);
      if (id === undefined) return undefined;
      parts.push(id);
    }
    return `t(${parts.join(',')})`;
  }
  return undefined;
}

export function dictSet(d: PyDict, k: PyValue, v: PyValue, index?: Map<string, number>): void {
  const id = keyId(k);
  if (id !== undefined && index) {
    const at = index.get(id);
    if (at !== undefined) {
      d.values[at] = v;
      return;
    }
    index.set(id, d.keys.length);
  }
  d.keys.push(k);
  d.values.push(v);
}

export function dictGet(d: PyDict, key: string): PyValue | undefined {
  for (let i = d.keys.length - 1; i >= 0; i--) if (d.keys[i] === key) return d.values[i];
  return undefined;
}

/** Decode pickle protocol-0 `repr` string literal (STRING opcode): 'abc' or "abc" with Python escapes. */
function decodeReprString(raw: string, fail: (m: string) => never): string {
  const q = raw[0];
  if (raw.length < 2 || (q !== "'" && q !== '"') || raw[raw.length - 1] !== q) fail('STRING argument is not a quoted literal');
  const body = raw.slice(1, -1);
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i] as string;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const n = body[++i];
    switch (n) {
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case '\\': out += '\\'; break;
      case "'": out += "'"; break;
      case '"': out += '"'; break;
      case 'x': {
        const h = body.slice(i + 1, i + 3);
        if (!/^[0-9a-fA-F]{2}$/.test(h)) fail('bad \\x escape in STRING');
        out += String.fromCharCode(parseInt(h, 16));
        i += 2;
        break;
      }
      default:
        if (n !== undefined && /[0-7]/.test(n)) {
          const m = /^[0-7]{1,3}/.exec(body.slice(i)) as RegExpExecArray;
          out += String.fromCharCode(parseInt(m[0], 8) & 0xff);
          i += m[0].length - 1;
        } else out += `\\${n ?? ''}`;
    }
  }
  return out;
}

/** raw-unicode-escape (UNICODE opcode): only \uXXXX and \UXXXXXXXX are escapes. */
function decodeRawUnicodeEscape(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i] as number);
  return s.replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (_m, a: string | undefined, c: string | undefined) =>
    String.fromCodePoint(parseInt((a ?? c) as string, 16)),
  );
}

function latin1Bytes(s: string, fail: (m: string) => never): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff) fail('_codecs.encode: character outside latin-1');
    out[i] = c;
  }
  return out;
}

/** Little-endian two's complement bytes → bigint (LONG1 / LONG4). */
function decodeLong(b: Uint8Array): bigint {
  if (b.length === 0) return 0n;
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i] as number);
  if ((b[b.length - 1] as number) & 0x80) v -= 1n << BigInt(b.length * 8);
  return v;
}

function normInt(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

/**
 * Run the pickle in `bytes` up to its STOP opcode. Throws E_PICKLE (malformed), E_PICKLE_GLOBAL (refused
 * global), E_TRUNCATED (ran out of bytes) or E_LIMIT (a bound was exceeded) — always with file and offset.
 */
export function unpickle(bytes: Uint8Array, opts: PickleOptions): PickleResult {
  const file = opts.file;
  const r = new BinaryReader(bytes, file, opts.base ?? 0);
  const maxOps = opts.maxOps ?? 50_000_000;
  const allowExtra = opts.allow ?? [];
  const stack: StackItem[] = [];
  const marks: number[] = [];
  const memo = new Map<number, PyValue>();
  const dictIndex = new WeakMap<PyDict, Map<string, number>>();
  let opStart = 0;
  const fail = (m: string): never => r.fail('E_PICKLE', m, opStart);

  const push = (v: PyValue): void => {
    if (stack.length >= MAX_STACK) r.fail('E_LIMIT', `pickle stack deeper than ${MAX_STACK}`, opStart);
    stack.push(v);
  };
  const pop = (): PyValue => {
    const base = marks.length ? (marks[marks.length - 1] as number) : 0;
    if (stack.length <= base) fail('stack underflow');
    const v = stack.pop() as StackItem;
    if (v === MARK) fail('unexpected MARK on the stack');
    return v as PyValue;
  };
  const top = (): PyValue => {
    const base = marks.length ? (marks[marks.length - 1] as number) : 0;
    if (stack.length <= base) fail('stack underflow');
    return stack[stack.length - 1] as PyValue;
  };
  const popMark = (): PyValue[] => {
    const m = marks.pop();
    if (m === undefined) fail('no MARK to pop to');
    const items = stack.splice(m as number) as StackItem[];
    return items as PyValue[];
  };
  const memoPut = (idx: number): void => {
    if (memo.size >= MAX_MEMO && !memo.has(idx)) r.fail('E_LIMIT', `pickle memo larger than ${MAX_MEMO} entries`, opStart);
    memo.set(idx, top());
  };
  const memoGet = (idx: number): void => {
    const v = memo.get(idx);
    if (v === undefined) fail(`memo key ${idx} was never stored`);
    push(v as PyValue);
  };
  const resolveGlobal = (module: string, name: string): PyGlobal => {
    const q = `${module}.${name}`;
    if (!isAllowedGlobal(q, allowExtra)) {
      throw new FerryError('E_PICKLE_GLOBAL', `refused to load '${q}': not on the allow-list of inert PyTorch/NumPy constructors; nothing was executed`, {
        file,
        offset: r.base + opStart,
        global: q,
      });
    }
    return { $: 'global', module, name };
  };
  const asGlobal = (v: PyValue, what: string): PyGlobal => {
    if (!isGlobal(v)) fail(`${what} expects a class, got ${describe(v)}`);
    return v as PyGlobal;
  };
  const newDict = (): PyDict => {
    const d: PyDict = { $: 'dict', keys: [], values: [] };
    dictIndex.set(d, new Map());
    return d;
  };
  const call = (g: PyGlobal, args: PyValue[], kwargs?: PyDict): PyValue => {
    const q = qualname(g);
    const custom = opts.reducers?.[q];
    if (custom) return custom(args, r.base + opStart);
    switch (q) {
      case 'collections.OrderedDict':
        if (args.length === 0) return newDict();
        break;
      case 'builtins.set':
      case '__builtin__.set':
      case 'builtins.frozenset':
      case '__builtin__.frozenset': {
        const a = args[0];
        const items = a === undefined ? [] : isList(a) || isTuple(a) ? [...a.items] : fail(`${q} of ${describe(a)}`);
        return { $: 'set', items, frozen: g.name === 'frozenset' };
      }
      case 'builtins.bytearray':
      case '__builtin__.bytearray': {
        const a = args[0];
        if (a === undefined) return new Uint8Array(0);
        if (a instanceof Uint8Array) return a;
        // protocols < 3 pickle bytearray(b) as bytearray(b.decode('latin-1'), 'latin-1')
        if (typeof a === 'string' && (args[1] === 'latin-1' || args[1] === 'latin1')) return latin1Bytes(a, fail);
        break;
      }
      case 'builtins.complex':
      case '__builtin__.complex': {
        const [re, im] = args;
        if (typeof re === 'number' && (im === undefined || typeof im === 'number')) return { $: 'complex', re, im: im ?? 0 };
        break;
      }
      case '_codecs.encode': {
        const [s, enc] = args;
        if (typeof s === 'string' && (enc === 'latin1' || enc === 'latin-1' || enc === 'iso-8859-1')) return latin1Bytes(s, fail);
        fail(`_codecs.encode is only accepted for latin-1 strings`);
        break;
      }
      case 'torch.Size': {
        const a = args[0];
        if (a !== undefined && (isTuple(a) || isList(a))) return tuple([...a.items]);
        break;
      }
    }
    return { $: 'object', cls: g, args, kwargs };
  };

  let ops = 0;
  for (;;) {
    if (++ops > maxOps) r.fail('E_LIMIT', `pickle has more than ${maxOps} opcodes`);
    opStart = r.pos;
    const op = r.u8();
    switch (op) {
      case 0x80: {
        // PROTO
        const p = r.u8();
        if (p > 5) fail(`unsupported pickle protocol ${p}`);
        break;
      }
      case 0x95: // FRAME: framing is only a buffering hint
        r.u64();
        break;
      case 0x2e: {
        // STOP
        const v = pop();
        return { value: v, end: r.pos };
      }
      // --- constants
      case 0x4e: push(null); break; // NONE
      case 0x88: push(true); break; // NEWTRUE
      case 0x89: push(false); break; // NEWFALSE
      case 0x4a: push(r.i32()); break; // BININT
      case 0x4b: push(r.u8()); break; // BININT1
      case 0x4d: push(r.u16()); break; // BININT2
      case 0x8a: push(normInt(decodeLong(r.bytesView(r.u8())))); break; // LONG1
      case 0x8b: {
        // LONG4
        const n = r.i32();
        if (n < 0) fail('LONG4 with negative length');
        if (n > MAX_LONG_BYTES) r.fail('E_LIMIT', `LONG4 of ${n} bytes`, opStart);
        push(normInt(decodeLong(r.bytesView(n))));
        break;
      }
      case 0x49: {
        // INT (text); protocol 0 spells booleans I00 / I01
        const t = textLine(r, 64);
        if (t === '00') push(false);
        else if (t === '01') push(true);
        else if (/^[-+]?\d+L?$/.test(t)) push(normInt(BigInt(t.replace(/L$/, ''))));
        else fail(`bad INT literal '${t}'`);
        break;
      }
      case 0x4c: {
        // LONG (text)
        const t = textLine(r, 1 << 10).replace(/L$/, '');
        if (!/^[-+]?\d+$/.test(t)) fail(`bad LONG literal '${t.slice(0, 40)}'`);
        push(normInt(BigInt(t)));
        break;
      }
      case 0x47: push(r.f64be()); break; // BINFLOAT
      case 0x46: {
        // FLOAT (text)
        const t = textLine(r, 64);
        const v = Number(t);
        if (t === '' || (Number.isNaN(v) && !/^[-+]?nan$/i.test(t))) fail(`bad FLOAT literal '${t}'`);
        push(v);
        break;
      }
      // --- strings / bytes
      case 0x58: push(r.utf8(r.u32())); break; // BINUNICODE
      case 0x8c: push(r.utf8(r.u8())); break; // SHORT_BINUNICODE
      case 0x8d: push(r.utf8(r.u64())); break; // BINUNICODE8
      case 0x56: push(decodeRawUnicodeEscape(r.until(0x0a, 1 << 24))); break; // UNICODE
      case 0x54: {
        // BINSTRING (py2 str, decoded as latin-1 like encoding='latin1')
        const n = r.i32();
        if (n < 0) fail('BINSTRING with negative length');
        push(r.latin1(n));
        break;
      }
      case 0x55: push(r.latin1(r.u8())); break; // SHORT_BINSTRING
      case 0x53: push(decodeReprString(textLine(r, 1 << 24).trim(), fail)); break; // STRING
      case 0x42: push(r.bytesView(r.u32()).slice()); break; // BINBYTES
      case 0x43: push(r.bytesView(r.u8()).slice()); break; // SHORT_BINBYTES
      case 0x8e: push(r.bytesView(r.u64()).slice()); break; // BINBYTES8
      case 0x96: push(r.bytesView(r.u64()).slice()); break; // BYTEARRAY8
      case 0x97: // NEXT_BUFFER
      case 0x98: // READONLY_BUFFER
        r.fail('E_PICKLE', 'out-of-band pickle buffers (protocol 5) are not supported', opStart);
        break;
      // --- containers
      case 0x28: // MARK
        if (marks.length >= MAX_MARKS) r.fail('E_LIMIT', `more than ${MAX_MARKS} nested MARKs`, opStart);
        marks.push(stack.length);
        break;
      case 0x7d: push(newDict()); break; // EMPTY_DICT
      case 0x5d: push({ $: 'list', items: [] }); break; // EMPTY_LIST
      case 0x29: push(tuple([])); break; // EMPTY_TUPLE
      case 0x8f: push({ $: 'set', items: [], frozen: false }); break; // EMPTY_SET
      case 0x85: push(tuple([pop()])); break; // TUPLE1
      case 0x86: {
        const b = pop();
        const a = pop();
        push(tuple([a, b]));
        break;
      }
      case 0x87: {
        const c = pop();
        const b = pop();
        const a = pop();
        push(tuple([a, b, c]));
        break;
      }
      case 0x74: push(tuple(popMark())); break; // TUPLE
      case 0x6c: push({ $: 'list', items: popMark() }); break; // LIST
      case 0x64: {
        // DICT
        const items = popMark();
        if (items.length % 2) fail('DICT with an odd number of items');
        const d = newDict();
        for (let i = 0; i < items.length; i += 2) dictSet(d, items[i] as PyValue, items[i + 1] as PyValue, dictIndex.get(d));
        push(d);
        break;
      }
      case 0x91: push({ $: 'set', items: popMark(), frozen: true }); break; // FROZENSET
      case 0x61: {
        // APPEND
        const v = pop();
        const l = top();
        if (!isList(l)) fail(`APPEND to ${describe(l)}`);
        (l as PyList).items.push(v);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        const l = top();
        if (isList(l)) for (const x of items) l.items.push(x);
        else fail(`APPENDS to ${describe(l)}`);
        break;
      }
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        const d = top();
        if (!isDict(d)) fail(`SETITEM on ${describe(d)}`);
        dictSet(d as PyDict, k, v, dictIndex.get(d as PyDict));
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        const d = top();
        if (!isDict(d)) fail(`SETITEMS on ${describe(d)}`);
        if (items.length % 2) fail('SETITEMS with an odd number of items');
        for (let i = 0; i < items.length; i += 2) dictSet(d as PyDict, items[i] as PyValue, items[i + 1] as PyValue, dictIndex.get(d as PyDict));
        break;
      }
      case 0x90: {
        // ADDITEMS
        const items = popMark();
        const s = top();
        if (!isObj(s, 'set')) fail(`ADDITEMS on ${describe(s)}`);
        (s as PySet).items.push(...items);
        break;
      }
      // --- stack / memo
      case 0x30: pop(); break; // POP
      case 0x31: popMark(); break; // POP_MARK
      case 0x32: push(top()); break; // DUP
      case 0x71: memoPut(r.u8()); break; // BINPUT
      case 0x72: memoPut(r.u32()); break; // LONG_BINPUT
      case 0x94: memoPut(memo.size); break; // MEMOIZE
      case 0x70: memoPut(textInt(r, fail)); break; // PUT
      case 0x68: memoGet(r.u8()); break; // BINGET
      case 0x6a: memoGet(r.u32()); break; // LONG_BINGET
      case 0x67: memoGet(textInt(r, fail)); break; // GET
      // --- globals: refused unless allow-listed, before anything else happens
      case 0x63: {
        // GLOBAL
        const module = textLine(r, 1 << 10);
        const name = textLine(r, 1 << 10);
        push(resolveGlobal(module, name));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL needs two strings');
        push(resolveGlobal(module as string, name as string));
        break;
      }
      case 0x69: {
        // INST: module\n name\n, args from MARK
        const module = textLine(r, 1 << 10);
        const name = textLine(r, 1 << 10);
        const g = resolveGlobal(module, name);
        push(call(g, popMark()));
        break;
      }
      case 0x6f: {
        // OBJ: MARK cls args... OBJ
        const items = popMark();
        if (items.length === 0) fail('OBJ without a class');
        push(call(asGlobal(items[0] as PyValue, 'OBJ'), items.slice(1)));
        break;
      }
      case 0x82:
      case 0x83:
      case 0x84: {
        // EXT1/2/4: copyreg extension registry — refers to globals we cannot check; refuse
        const code = op === 0x82 ? r.u8() : op === 0x83 ? r.u16() : r.i32();
        throw new FerryError('E_PICKLE_GLOBAL', `refused extension-registry global #${code} (EXT opcodes are never resolved)`, {
          file,
          offset: r.base + opStart,
          global: `copyreg.extension#${code}`,
        });
      }
      // --- calls (interpreted, never executed)
      case 0x52: {
        // REDUCE
        const args = pop();
        const fn = asGlobal(pop(), 'REDUCE');
        if (!isTuple(args)) fail(`REDUCE arguments must be a tuple, got ${describe(args)}`);
        push(call(fn, (args as PyTuple).items));
        break;
      }
      case 0x81: {
        // NEWOBJ
        const args = pop();
        const cls = asGlobal(pop(), 'NEWOBJ');
        if (!isTuple(args)) fail('NEWOBJ arguments must be a tuple');
        push(call(cls, (args as PyTuple).items));
        break;
      }
      case 0x92: {
        // NEWOBJ_EX
        const kwargs = pop();
        const args = pop();
        const cls = asGlobal(pop(), 'NEWOBJ_EX');
        if (!isTuple(args) || !isDict(kwargs)) fail('NEWOBJ_EX needs (tuple, dict)');
        push(call(cls, (args as PyTuple).items, kwargs as PyDict));
        break;
      }
      case 0x62: {
        // BUILD
        const state = pop();
        const obj = top();
        if (isPyObject(obj) || isDict(obj)) obj.state = state;
        else fail(`BUILD on ${describe(obj)}`);
        break;
      }
      case 0x51: {
        // BINPERSID
        const pid = pop();
        if (!opts.persistentLoad) fail('persistent id in a pickle that may not have any');
        push((opts.persistentLoad as NonNullable<PickleOptions['persistentLoad']>)(pid, r.base + opStart));
        break;
      }
      case 0x50: {
        // PERSID (text)
        const pid = textLine(r, 1 << 10);
        if (!opts.persistentLoad) fail('persistent id in a pickle that may not have any');
        push((opts.persistentLoad as NonNullable<PickleOptions['persistentLoad']>)(pid, r.base + opStart));
        break;
      }
      default:
        fail(`unknown pickle opcode 0x${op.toString(16).padStart(2, '0')}`);
    }
  }
}

function textLine(r: BinaryReader, max: number): string {
  const b = r.until(0x0a, max);
  let s = '';
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i] as number);
  return s.replace(/\r$/, '');
}

function textInt(r: BinaryReader, fail: (m: string) => never): number {
  const t = textLine(r, 32);
  if (!/^\d+$/.test(t)) fail(`bad memo index '${t}'`);
  return Number(t);
}

/** Short description of a value for error messages. */
export function describe(v: PyValue | undefined): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'None';
  if (v instanceof Uint8Array) return `bytes[${v.length}]`;
  switch (typeof v) {
    case 'string':
      return `str '${v.length > 40 ? `${v.slice(0, 40)}…` : v}'`;
    case 'number':
    case 'bigint':
      return `int/float ${v}`;
    case 'boolean':
      return v ? 'True' : 'False';
  }
  switch (v.$) {
    case 'global':
      return `global ${qualname(v)}`;
    case 'object':
      return `${qualname(v.cls)}(…)`;
    default:
      return v.$;
  }
}

/** Decode UTF-8 (exported for the readers' byte-string keys). */
export function utf8(b: Uint8Array): string {
  return UTF8.decode(b);
}
