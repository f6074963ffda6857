/**
 * A module in one safetensors file: its parameters under their state-dict names (PyTorch's,
 * for the built-in layers) and a JSON description of its architecture in the metadata. The
 * description is data handed to a builder the caller writes; the file never names code to run
 * or a path to follow.
 */
import { SeqgradError, fmt } from '@seqgrad/autograd';
import type { Module } from '@seqgrad/layers';
import { SafetensorsError, type TensorSpec, loadAs, readHeaderAs, saveSafetensors } from './safetensors.js';

/** The `format` metadata of a file written by `saveModule`. */
export const MODULE_FORMAT = 'seqgrad.module.v1';

/** A JSON value: what a description may hold. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** Where a value is not plain JSON (a function, a class instance, NaN, a cycle), the path to it and why; null when it is JSON. */
function notJson(value: unknown, path: string, seen: Set<object>): string | null {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return null;
  if (typeof value === 'number') return Number.isFinite(value) ? null : `${path} is ${value}, which JSON cannot hold`;
  if (typeof value !== 'object') return `${path} is a ${typeof value}, which JSON cannot hold`;
  if (seen.has(value)) return `${path} refers back to itself`;
  const proto = Object.getPrototypeOf(value);
  if (!Array.isArray(value) && proto !== Object.prototype && proto !== null) return `${path} is a ${value.constructor?.name ?? 'class instance'}, not a plain object`;
  seen.add(value);
  for (const [k, v] of Object.entries(value)) {
    const why = notJson(v, Array.isArray(value) ? `${path}[${k}]` : `${path}.${k}`, seen);
    if (why) return why;
  }
  seen.delete(value);
  return null;
}

/**
 * Serializes a module's parameters and a JSON description of how to build it again. The
 * tensors are `module.stateDict()` under its names, so `safetensors.torch.load_file` plus
 * `load_state_dict` read them into the equivalent `torch.nn` module; `extra` metadata (strings)
 * is stored beside `format` and `description`.
 *
 * @example
 * const lstm = new LSTM(3, 4);
 * const bytes = saveModule(lstm, { kind: 'LSTM', inputSize: 3, hiddenSize: 4 });
 * const { module } = loadModule(bytes, (d) => new LSTM((d as { inputSize: number }).inputSize, 4));
 */
export function saveModule(module: Module, description: JsonValue, extra: Readonly<Record<string, string>> = {}): Uint8Array {
  const op = 'saveModule';
  if (!module || typeof (module as Module).namedParameters !== 'function') throw new SeqgradError(op, `module must be a Module, got ${module === null ? 'null' : typeof module}`);
  const why = notJson(description, 'description', new Set());
  if (why) throw new SeqgradError(op, `${why}; the description must be plain JSON (sizes and names, never code)`);
  for (const k of ['format', 'description']) if (Object.prototype.hasOwnProperty.call(extra, k)) throw new SeqgradError(op, `extra metadata '${k}' is reserved`);
  return saveSafetensors(module.stateDict(), { ...extra, format: MODULE_FORMAT, description: JSON.stringify(description) });
}

export interface LoadModuleOptions {
  /** How the bytes are named in errors (a file's path). */
  source?: string;
  /** Accept NaN and ±Infinity in the weights (default false). */
  allowNonFinite?: boolean;
}

/**
 * Builds a module from a file written by `saveModule`: the header is checked, the description
 * parsed as JSON and passed to `build` (the caller's code decides what a description may
 * build, and should bound its sizes), then every tensor's name, dtype and shape is compared
 * with the module's parameters before one is read, and the weights are loaded (strict: a
 * missing or unexpected tensor is an error, like `load_state_dict(strict=True)`).
 *
 * @example
 * const bytes = saveModule(new Linear(2, 3), { inFeatures: 2, outFeatures: 3 });
 * const { module } = loadModule(bytes, (d) => {
 *   const { inFeatures, outFeatures } = d as { inFeatures: number; outFeatures: number };
 *   return new Linear(inFeatures, outFeatures);
 * });
 */
export function loadModule<M extends Module>(
  bytes: Uint8Array,
  build: (description: JsonValue) => M,
  opts: LoadModuleOptions = {},
): { module: M; description: JsonValue; metadata: Record<string, string> } {
  const op = 'loadModule';
  const source = opts.source ?? 'safetensors data';
  if (typeof build !== 'function') throw new SeqgradError(op, `build must be a function (description) => Module, got ${typeof build}`);
  const { metadata } = readHeaderAs(op, bytes, source);
  if (metadata.format !== MODULE_FORMAT) {
    throw new SafetensorsError(op, source, `not a module file: its metadata format is ${metadata.format === undefined ? 'absent' : `'${metadata.format}'`}, expected '${MODULE_FORMAT}' (plain weights load with loadSafetensors)`);
  }
  let description: JsonValue;
  try {
    description = JSON.parse(metadata.description ?? '') as JsonValue;
  } catch {
    throw new SafetensorsError(op, source, `its metadata 'description' is not JSON`);
  }
  const module = build(description);
  if (!module || typeof (module as Module).namedParameters !== 'function') throw new SeqgradError(op, `build returned ${module === null ? 'null' : typeof module}, not a Module`);
  const expect = new Map<string, TensorSpec>();
  for (const [name, p] of module.namedParameters()) {
    if (p.dtype === 'int32') throw new SeqgradError(op, `parameter '${name}' ${fmt(p.shape)} is int32; parameters are float32 or float64`);
    expect.set(name, { dtype: p.dtype === 'float32' ? 'F32' : 'F64', shape: p.shape });
  }
  const { tensors } = loadAs(op, bytes, { source, expect, strict: true, allowNonFinite: opts.allowNonFinite });
  module.loadStateDict(tensors);
  return { module, description, metadata };
}
