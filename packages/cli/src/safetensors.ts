/**
 * The safetensors format, read and written by its published layout:
 *
 *   [8 bytes]  N, the header length, unsigned 64-bit little-endian
 *   [N bytes]  a UTF-8 JSON object: { "<name>": { "dtype": "F32", "shape": [..], "data_offsets": [begin, end] }, ...,
 *              "__metadata__"?: { "<key>": "<string>" } }, right-padded with spaces
 *   [rest]     the raw little-endian tensor bytes; data_offsets are relative to the start of this block
 *
 * No npm package for it is maintained (the `safetensors` name holds a 0.0.1 placeholder), so this is
 * a small reader and writer of our own. Python's `safetensors` and `torch` read what it writes.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename } from 'node:path';

/** The dtypes seqgrad reads and writes (safetensors spells them F32, F64, I32; I64 is read only). */
export type SafeDType = 'F32' | 'F64' | 'I32';

export interface SafeTensor {
  dtype: SafeDType;
  shape: number[];
  data: Float32Array | Float64Array | Int32Array;
}

export interface SafetensorsFile {
  tensors: Map<string, SafeTensor>;
  metadata: Record<string, string>;
}

/** A file that is not valid safetensors; the message says which file and what is wrong. */
export class SafetensorsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SafetensorsError';
  }
}

const BYTES: Record<string, number> = { F32: 4, F64: 8, I32: 4, I64: 8 };
/** The Rust implementation refuses headers above 100 MB; so do we. */
const MAX_HEADER = 100_000_000;

function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Serializes tensors (in name order) and optional string metadata to safetensors bytes. */
export function encodeSafetensors(tensors: ReadonlyMap<string, SafeTensor> | Record<string, SafeTensor>, metadata?: Record<string, string>): Uint8Array {
  const entries = (tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new SafetensorsError(`safetensors: metadata '${k}' must be a string`);
    }
    header.__metadata__ = metadata;
  }
  let offset = 0;
  for (const [name, t] of entries) {
    if (name === '__metadata__') throw new SafetensorsError(`safetensors: '__metadata__' is reserved and cannot name a tensor`);
    const bytes = numel(t.shape) * BYTES[t.dtype]!;
    if (t.data.length !== numel(t.shape)) {
      throw new SafetensorsError(`safetensors: tensor '${name}' has shape [${t.shape.join(',')}] but ${t.data.length} values`);
    }
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  // Pad with spaces so the data block starts 8-byte aligned (as the reference writer does).
  const jsonBytes = new TextEncoder().encode(json);
  const padded = Math.ceil(jsonBytes.length / 8) * 8;
  json += ' '.repeat(padded - jsonBytes.length);
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let pos = 8 + headerBytes.length;
  for (const [, t] of entries) {
    const n = t.data.length;
    if (t.dtype === 'F32') for (let i = 0; i < n; i++, pos += 4) view.setFloat32(pos, t.data[i]!, true);
    else if (t.dtype === 'F64') for (let i = 0; i < n; i++, pos += 8) view.setFloat64(pos, t.data[i]!, true);
    else for (let i = 0; i < n; i++, pos += 4) view.setInt32(pos, t.data[i]!, true);
  }
  return out;
}

/** Parses safetensors bytes; `source` names the file in error messages. */
export function decodeSafetensors(bytes: Uint8Array, source = 'safetensors data'): SafetensorsFile {
  const bad = (why: string) => new SafetensorsError(`${source}: not a valid safetensors file: ${why}`);
  if (bytes.length < 8) throw bad(`only ${bytes.length} bytes, shorter than the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n64 = view.getBigUint64(0, true);
  if (n64 > BigInt(MAX_HEADER)) throw bad(`header length ${n64} is implausible`);
  const n = Number(n64);
  if (8 + n > bytes.length) throw bad(`header length ${n} runs past the end of the file (${bytes.length} bytes)`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch {
    throw bad('the header is not UTF-8 JSON');
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw bad('the header is not a JSON object');
  const dataStart = 8 + n;
  const dataLength = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const tensors = new Map<string, SafeTensor>();
  const spans: [number, number, string][] = [];
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof entry !== 'object' || entry === null) throw bad('__metadata__ is not an object');
      for (const [k, v] of Object.entries(entry)) {
        if (typeof v !== 'string') throw bad(`__metadata__['${k}'] is not a string`);
        metadata[k] = v;
      }
      continue;
    }
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e !== 'object' || e === null) throw bad(`entry '${name}' is not an object`);
    const dtype = e.dtype;
    if (typeof dtype !== 'string') throw bad(`tensor '${name}' has no dtype`);
    if (!(dtype in BYTES)) throw new SafetensorsError(`${source}: tensor '${name}' has dtype ${dtype}; seqgrad reads F32, F64, I32 and I64`);
    const shape = e.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) throw bad(`tensor '${name}' has a bad shape`);
    const offs = e.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isInteger(o) && o >= 0)) {
      throw bad(`tensor '${name}' has bad data_offsets`);
    }
    const [begin, end] = offs as [number, number];
    const count = numel(shape as number[]);
    if (end < begin || end - begin !== count * BYTES[dtype]!) {
      throw bad(`tensor '${name}' (${dtype} [${shape.join(',')}]) needs ${count * BYTES[dtype]!} bytes but data_offsets span ${end - begin}`);
    }
    if (end > dataLength) throw bad(`tensor '${name}' runs past the end of the file (truncated?)`);
    spans.push([begin, end, name]);
    const abs = dataStart + begin;
    let data: SafeTensor['data'];
    let outType: SafeDType;
    if (dtype === 'F32') {
      data = new Float32Array(count);
      for (let i = 0; i < count; i++) data[i] = view.getFloat32(abs + 4 * i, true);
      outType = 'F32';
    } else if (dtype === 'F64') {
      data = new Float64Array(count);
      for (let i = 0; i < count; i++) data[i] = view.getFloat64(abs + 8 * i, true);
      outType = 'F64';
    } else if (dtype === 'I32') {
      data = new Int32Array(count);
      for (let i = 0; i < count; i++) data[i] = view.getInt32(abs + 4 * i, true);
      outType = 'I32';
    } else {
      data = new Int32Array(count);
      for (let i = 0; i < count; i++) {
        const v = view.getBigInt64(abs + 8 * i, true);
        if (v > 2147483647n || v < -2147483648n) throw new SafetensorsError(`${source}: tensor '${name}' holds ${v}, outside the int32 range`);
        data[i] = Number(v);
      }
      outType = 'I32';
    }
    tensors.set(name, { dtype: outType, shape: shape as number[], data });
  }
  // The published layout has no holes and no overlaps in the data block.
  spans.sort((a, b) => a[0] - b[0]);
  let cursor = 0;
  for (const [begin, end, name] of spans) {
    if (begin !== cursor) throw bad(`tensor '${name}' starts at byte ${begin}, expected ${cursor} (overlap or hole)`);
    cursor = end;
  }
  if (cursor !== dataLength) throw bad(`${dataLength - cursor} trailing bytes after the last tensor`);
  return { tensors, metadata };
}

/** Reads and parses a .safetensors file. */
export function readSafetensors(path: string): SafetensorsFile {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new SafetensorsError(code === 'ENOENT' ? `${path}: no such file` : `${path}: cannot read (${code ?? String(err)})`);
  }
  return decodeSafetensors(bytes, basename(path));
}

/**
 * Writes a .safetensors file atomically: the bytes go to a temporary file next to the target,
 * are flushed to disk, and the temporary file is renamed over the target, so a reader (or a
 * crash) never sees a half-written checkpoint.
 */
export function writeSafetensorsAtomic(path: string, tensors: ReadonlyMap<string, SafeTensor> | Record<string, SafeTensor>, metadata?: Record<string, string>): void {
  const bytes = encodeSafetensors(tensors, metadata);
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    try { unlinkSync(tmp); } catch { /* already gone */ }
    throw err;
  }
  closeSync(fd);
  renameSync(tmp, path);
}
