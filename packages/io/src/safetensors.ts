/**
 * The safetensors format (https://huggingface.co/docs/safetensors), read and written by its
 * published layout, bytes in and bytes out:
 *
 *   [8 bytes]  N, the header length, unsigned 64-bit little-endian
 *   [N bytes]  a UTF-8 JSON object: { "<name>": { "dtype": "F32", "shape": [..], "data_offsets": [begin, end] }, ...,
 *              "__metadata__"?: { "<key>": "<string>" } }, right-padded with spaces
 *   [rest]     the raw little-endian tensor bytes; data_offsets are relative to the start of this block
 *
 * A file is data: every field of the header is checked (length bounds, JSON shape, dtype,
 * offsets inside the data block, no holes or overlaps, shape × dtype size = byte length, sizes
 * that would overflow) before a single tensor is allocated, and tensor names are kept in a
 * `Map` (metadata in an object without prototype), so `__proto__` is a name like any other.
 */
import { SeqgradError, Tensor, fmt } from '@seqgrad/autograd';

/** The dtypes seqgrad reads and writes; `I64` is read only (into int32, each value range-checked). */
export type SafetensorsDType = 'F32' | 'F64' | 'I32' | 'I64';

/** What a tensor must be: its dtype as the file spells it and its shape. */
export interface TensorSpec {
  dtype: SafetensorsDType;
  shape: readonly number[];
}

/** One header entry, checked: dtype, shape and where its bytes are in the data block. */
export interface HeaderEntry extends TensorSpec {
  /** [begin, end) relative to the data block. */
  dataOffsets: readonly [number, number];
}

/** A checked header: the tensors in file order and the string metadata. */
export interface SafetensorsHeader {
  entries: Map<string, HeaderEntry>;
  /** `__metadata__`, an object without prototype (a key `__proto__` is a plain key). */
  metadata: Record<string, string>;
}

export interface LoadSafetensorsOptions {
  /** How the bytes are named in errors (a file's path); default `safetensors data`. */
  source?: string;
  /**
   * The tensors the caller expects, by name: each must be in the file with this dtype and
   * shape, checked before any tensor is materialised (like `load_state_dict(strict=True)`,
   * but before the bytes are read).
   */
  expect?: ReadonlyMap<string, TensorSpec> | Readonly<Record<string, TensorSpec>>;
  /** With `expect`: a name in the file that is not expected is an error (default true). */
  strict?: boolean;
  /** Accept NaN and ±Infinity in floating-point tensors (default false: refused, naming the tensor). */
  allowNonFinite?: boolean;
}

export interface LoadedSafetensors {
  /** The tensors by name, in file order: float32, float64 or int32 seqgrad tensors. */
  tensors: Map<string, Tensor>;
  metadata: Record<string, string>;
}

/** Bytes that are not a valid (or not the expected) safetensors file. `reason` is the message without the function and source. */
export class SafetensorsError extends SeqgradError {
  constructor(
    op: string,
    readonly source: string,
    readonly reason: string,
  ) {
    super(op, `${source}: ${reason}`);
    this.name = 'SafetensorsError';
  }
}

const BYTES: Readonly<Record<SafetensorsDType, number>> = Object.freeze({ F32: 4, F64: 8, I32: 4, I64: 8 });
const DTYPES = Object.keys(BYTES) as SafetensorsDType[];
/** The Rust implementation refuses headers above 100 MB; so does this one. */
export const MAX_HEADER_BYTES = 100_000_000;
/** More dimensions than any real tensor has; a longer shape is refused before its product is taken. */
const MAX_RANK = 32;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const isDType = (d: unknown): d is SafetensorsDType => typeof d === 'string' && Object.prototype.hasOwnProperty.call(BYTES, d);
const has = (o: object, k: string) => Object.prototype.hasOwnProperty.call(o, k);

/** Π shape, refusing a product beyond 2^53 (where float arithmetic stops being exact). */
function checkedNumel(shape: readonly number[]): number | null {
  let n = 1;
  for (const d of shape) {
    n *= d;
    if (n > Number.MAX_SAFE_INTEGER) return null;
  }
  return n;
}

function entriesOf<T>(m: ReadonlyMap<string, T> | Readonly<Record<string, T>>): [string, T][] {
  return m instanceof Map ? [...m.entries()] : Object.entries(m as Record<string, T>);
}

function safeDTypeOf(t: Tensor): SafetensorsDType {
  return t.dtype === 'float32' ? 'F32' : t.dtype === 'float64' ? 'F64' : 'I32';
}

/**
 * Serializes tensors and optional string metadata to safetensors bytes (tensors in name order,
 * the data block 8-byte aligned, as the reference writer does). PyTorch's
 * `safetensors.torch.load_file` reads the result.
 *
 * @example
 * const bytes = saveSafetensors({ weight: tensor([[1, 2], [3, 4]]) }, { note: 'hello' });
 * loadSafetensors(bytes).tensors.get('weight')!.toArray(); // [[1, 2], [3, 4]]
 */
export function saveSafetensors(tensors: ReadonlyMap<string, Tensor> | Readonly<Record<string, Tensor>>, metadata?: Readonly<Record<string, string>>): Uint8Array {
  const op = 'saveSafetensors';
  if (tensors === null || typeof tensors !== 'object') throw new SeqgradError(op, `tensors must be a Map or an object of Tensors, got ${tensors === null ? 'null' : typeof tensors}`);
  const list = entriesOf(tensors).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const header: Record<string, unknown> = Object.create(null);
  if (metadata !== undefined) {
    if (metadata === null || typeof metadata !== 'object') throw new SeqgradError(op, `metadata must be an object of strings, got ${metadata === null ? 'null' : typeof metadata}`);
    const md: Record<string, string> = Object.create(null);
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new SeqgradError(op, `metadata '${k}' must be a string, got ${typeof v} (the format holds strings only; JSON.stringify it)`);
      md[k] = v;
    }
    if (Object.keys(md).length > 0) header.__metadata__ = md;
  }
  let offset = 0;
  for (const [name, t] of list) {
    if (name === '__metadata__') throw new SeqgradError(op, `'__metadata__' is reserved by the format and cannot name a tensor`);
    if (!(t instanceof Tensor)) throw new SeqgradError(op, `tensor '${name}' is not a Tensor (got ${t === null ? 'null' : typeof t})`);
    const bytes = t.size * BYTES[safeDTypeOf(t)];
    header[name] = { dtype: safeDTypeOf(t), shape: [...t.shape], data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const encoder = new TextEncoder();
  const json = encoder.encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + padded + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + padded);
  let pos = 8 + padded;
  for (const [, t] of list) {
    const d = t.data;
    if (LITTLE_ENDIAN) {
      out.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), pos);
      pos += d.byteLength;
    } else if (d instanceof Float32Array) for (let i = 0; i < d.length; i++, pos += 4) view.setFloat32(pos, d[i]!, true);
    else if (d instanceof Float64Array) for (let i = 0; i < d.length; i++, pos += 8) view.setFloat64(pos, d[i]!, true);
    else for (let i = 0; i < d.length; i++, pos += 4) view.setInt32(pos, d[i]!, true);
  }
  return out;
}

/**
 * Reads and checks the header of safetensors bytes without materialising any tensor: the
 * names, dtypes, shapes and offsets a caller can compare with what it expects (PyTorch's
 * `safe_open(...).keys()` and `get_slice(name).get_shape()`).
 *
 * @example
 * const { entries } = readSafetensorsHeader(saveSafetensors({ w: zeros([2, 3]) }));
 * entries.get('w'); // { dtype: 'F32', shape: [2, 3], dataOffsets: [0, 24] }
 */
export function readSafetensorsHeader(bytes: Uint8Array, opts: { source?: string } = {}): SafetensorsHeader {
  return parseHeader('readSafetensorsHeader', bytes, opts.source ?? 'safetensors data').header;
}

/** `readSafetensorsHeader` whose errors name `op`. */
export function readHeaderAs(op: string, bytes: Uint8Array, source: string): SafetensorsHeader {
  return parseHeader(op, bytes, source).header;
}

function parseHeader(op: string, bytes: Uint8Array, source: string): { header: SafetensorsHeader; dataStart: number } {
  const bad = (why: string) => new SafetensorsError(op, source, `not a valid safetensors file: ${why}`);
  if (!(bytes instanceof Uint8Array)) throw new SeqgradError(op, `bytes must be a Uint8Array, got ${bytes === null ? 'null' : typeof bytes}`);
  if (bytes.length < 8) throw bad(`only ${bytes.length} ${bytes.length === 1 ? 'byte' : 'bytes'}, shorter than the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n64 = view.getBigUint64(0, true);
  if (n64 > BigInt(MAX_HEADER_BYTES)) throw bad(`header length ${n64} is above the ${MAX_HEADER_BYTES}-byte limit`);
  const n = Number(n64);
  if (n < 2) throw bad(`header length ${n} is too short for a JSON object`);
  if (8 + n > bytes.length) throw bad(`header length ${n} runs past the end of the data (${bytes.length} bytes; truncated?)`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch {
    throw bad('the header is not UTF-8 JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw bad('the header is not a JSON object');
  const dataStart = 8 + n;
  const dataLength = bytes.length - dataStart;
  const metadata: Record<string, string> = Object.create(null);
  const entries = new Map<string, HeaderEntry>();
  for (const [name, raw] of Object.entries(parsed as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw bad('__metadata__ is not an object');
      for (const [k, v] of Object.entries(raw)) {
        if (typeof v !== 'string') throw bad(`__metadata__ '${k}' is not a string`);
        metadata[k] = v;
      }
      continue;
    }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw bad(`entry '${name}' is not an object`);
    const e = raw as Record<string, unknown>;
    const extra = Object.keys(e).filter((k) => k !== 'dtype' && k !== 'shape' && k !== 'data_offsets');
    if (extra.length) throw bad(`tensor '${name}' has unknown field(s) ${extra.map((k) => `'${k}'`).join(', ')}`);
    if (!has(e, 'dtype') || typeof e.dtype !== 'string') throw bad(`tensor '${name}' has no dtype`);
    if (!isDType(e.dtype)) throw new SafetensorsError(op, source, `tensor '${name}' has dtype ${e.dtype}; seqgrad reads ${DTYPES.join(', ')}`);
    const dtype = e.dtype;
    const shape = e.shape;
    if (!Array.isArray(shape) || shape.length > MAX_RANK || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw bad(`tensor '${name}' has shape ${JSON.stringify(shape)}; expected at most ${MAX_RANK} non-negative integers`);
    }
    const offs = e.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      throw bad(`tensor '${name}' has data_offsets ${JSON.stringify(offs)}; expected [begin, end], two non-negative integers`);
    }
    const [begin, end] = offs as [number, number];
    const count = checkedNumel(shape);
    const need = count === null ? null : count * BYTES[dtype];
    if (need === null || need > Number.MAX_SAFE_INTEGER) throw bad(`tensor '${name}' ${dtype} ${fmt(shape)} is too large to address`);
    if (end < begin) throw bad(`tensor '${name}' has data_offsets [${begin}, ${end}] that end before they begin`);
    if (end > dataLength) throw bad(`tensor '${name}' has data_offsets [${begin}, ${end}] past the end of the ${dataLength}-byte data block (truncated?)`);
    if (end - begin !== need) throw bad(`tensor '${name}' (${dtype} ${fmt(shape)}) needs ${need} bytes but its data_offsets span ${end - begin}`);
    entries.set(name, { dtype, shape: [...shape] as number[], dataOffsets: [begin, end] });
  }
  // The published layout has no holes and no overlaps in the data block.
  const spans = [...entries].map(([name, e]) => [e.dataOffsets[0], e.dataOffsets[1], name] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let cursor = 0;
  for (const [begin, end, name] of spans) {
    if (begin !== cursor) throw bad(`tensor '${name}' starts at byte ${begin} of the data block, expected ${cursor} (${begin < cursor ? 'overlap' : 'hole'})`);
    cursor = end;
  }
  if (cursor !== dataLength) throw bad(`${dataLength - cursor} trailing bytes after the last tensor`);
  return { header: { entries, metadata }, dataStart };
}

/** Compares a checked header with what the caller expects; names the first difference. */
function checkExpected(op: string, source: string, entries: ReadonlyMap<string, HeaderEntry>, expect: LoadSafetensorsOptions['expect'], strict: boolean): void {
  if (!expect) return;
  const want = new Map(entriesOf(expect));
  for (const [name, spec] of want) {
    const e = entries.get(name);
    if (!e) throw new SafetensorsError(op, source, `tensor '${name}' ${spec.dtype} ${fmt(spec.shape)} is missing from the file`);
    if (e.dtype !== spec.dtype) throw new SafetensorsError(op, source, `tensor '${name}' is ${e.dtype} in the file but ${spec.dtype} is expected`);
    if (e.shape.length !== spec.shape.length || e.shape.some((d, i) => d !== spec.shape[i])) {
      throw new SafetensorsError(op, source, `tensor '${name}' has shape ${fmt(e.shape)} in the file but ${fmt(spec.shape)} is expected`);
    }
  }
  if (strict) {
    for (const name of entries.keys()) if (!want.has(name)) throw new SafetensorsError(op, source, `the file has tensor '${name}', which is not expected`);
  }
}

/**
 * Parses safetensors bytes into seqgrad tensors and the string metadata. The whole header is
 * checked first (and compared with `opts.expect`), then each tensor is copied out of the bytes;
 * floating-point tensors holding NaN or ±Infinity are refused, naming the tensor, unless
 * `allowNonFinite`. Like `safetensors.torch.load(bytes)`; nothing in the bytes is executed.
 *
 * @example
 * const bytes = saveSafetensors({ 'rnn.weight_hh_l0': zeros([8, 2]) });
 * const { tensors } = loadSafetensors(bytes, { expect: { 'rnn.weight_hh_l0': { dtype: 'F32', shape: [8, 2] } } });
 * tensors.get('rnn.weight_hh_l0')!.shape; // [8, 2]
 */
export function loadSafetensors(bytes: Uint8Array, opts: LoadSafetensorsOptions = {}): LoadedSafetensors {
  return loadAs('loadSafetensors', bytes, opts);
}

/** `loadSafetensors` whose errors name `op`, the public function the caller used. */
export function loadAs(op: string, bytes: Uint8Array, opts: LoadSafetensorsOptions): LoadedSafetensors {
  const source = opts.source ?? 'safetensors data';
  const { header, dataStart } = parseHeader(op, bytes, source);
  checkExpected(op, source, header.entries, opts.expect, opts.strict ?? true);
  const tensors = new Map<string, Tensor>();
  for (const [name, e] of header.entries) {
    const data = readData(op, source, bytes, dataStart, name, e);
    if (!opts.allowNonFinite && !(data instanceof Int32Array)) {
      for (let i = 0; i < data.length; i++) {
        if (!Number.isFinite(data[i]!)) throw new SafetensorsError(op, source, `tensor '${name}' ${fmt(e.shape)} holds ${data[i]} at flat index ${i}; weights must be finite`);
      }
    }
    tensors.set(name, new Tensor(data, e.shape));
  }
  return { tensors, metadata: header.metadata };
}

function readData(op: string, source: string, bytes: Uint8Array, dataStart: number, name: string, e: HeaderEntry): Float32Array | Float64Array | Int32Array {
  const begin = dataStart + e.dataOffsets[0];
  const length = e.dataOffsets[1] - e.dataOffsets[0];
  if (e.dtype === 'I64') {
    const view = new DataView(bytes.buffer, bytes.byteOffset + begin, length);
    const out = new Int32Array(length / 8);
    for (let i = 0; i < out.length; i++) {
      const v = view.getBigInt64(8 * i, true);
      if (v > 2147483647n || v < -2147483648n) throw new SafetensorsError(op, source, `tensor '${name}' holds ${v} at flat index ${i}, outside the int32 range seqgrad reads I64 into`);
      out[i] = Number(v);
    }
    return out;
  }
  // A copy of the bytes into a fresh (aligned) buffer, viewed as the dtype. (Not `bytes.slice`:
  // on a Node Buffer that is a view into a shared pool.)
  const own = new Uint8Array(length);
  own.set(bytes.subarray(begin, begin + length));
  const copy = own.buffer;
  const out = e.dtype === 'F32' ? new Float32Array(copy) : e.dtype === 'F64' ? new Float64Array(copy) : new Int32Array(copy);
  if (!LITTLE_ENDIAN) {
    const view = new DataView(bytes.buffer, bytes.byteOffset + begin, length);
    for (let i = 0; i < out.length; i++) {
      out[i] = e.dtype === 'F32' ? view.getFloat32(4 * i, true) : e.dtype === 'F64' ? view.getFloat64(8 * i, true) : view.getInt32(4 * i, true);
    }
  }
  return out;
}
