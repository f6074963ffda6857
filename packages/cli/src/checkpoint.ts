/**
 * Training checkpoints as safetensors files (read and written by `@seqgrad/io`).
 *
 * Tensors: the model's parameters under PyTorch's names (`rnn.weight_ih_l0`, `head.weight`, …),
 * so `safetensors.torch.load_file` + `load_state_dict` read them; the optimizer's tensors under
 * `optimizer.*`. Metadata (strings, as the format requires): the format tag, the training config
 * (with its dropout and zoneout rates), the step, the data generator's state, the mask
 * generator's state (runs with dropout or zoneout), and the optimizer's and schedule's state dicts as JSON
 * in which each tensor is a reference `{"$tensor": "optimizer.…"}`.
 *
 * A checkpoint is data: its config names no module to import and no file to read (a custom
 * cell or text is recorded by name and SHA-256, and the user passes the file again), and the
 * config is checked against the tensors' shapes in the header before a model is built.
 *
 * Bytes in, bytes out, free of Node APIs (pages read checkpoints through `seqgrad/model`);
 * checkpointFile.ts reads and writes the files.
 */
import { Tensor } from '@seqgrad/autograd';
import { type HeaderEntry, type SafetensorsHeader, SafetensorsError, type TensorSpec, loadSafetensors, readSafetensorsHeader, saveSafetensors } from '@seqgrad/io';
import { CliError } from './errors.js';

export const CHECKPOINT_FORMAT = 'seqgrad.checkpoint.v2';
export const OPTIMIZER_PREFIX = 'optimizer.';
const SCHEDULER_PREFIX = 'scheduler.';

/**
 * Replaces every Tensor (and typed array) inside `value` by `{ $tensor: name }`, collecting the
 * tensors; non-finite numbers become `{ $num: "Infinity" }` so JSON keeps them.
 */
export function packState(value: unknown, prefix: string, tensors: Map<string, Tensor>): unknown {
  const walk = (v: unknown, path: string): unknown => {
    if (v instanceof Tensor) {
      tensors.set(path, new Tensor(v.data.slice(), v.shape));
      return { $tensor: path };
    }
    if (v instanceof Float32Array || v instanceof Float64Array || v instanceof Int32Array) {
      tensors.set(path, new Tensor(v.slice(), [v.length]));
      return { $tensor: path, $typed: true };
    }
    if (typeof v === 'number' && !Number.isFinite(v)) return { $num: String(v) };
    // Long numeric arrays (optimizer buffers) go into the tensor block as float64: exact for
    // values that came from float32 or float64 buffers, and far smaller than JSON.
    if (Array.isArray(v) && v.length > 8 && v.every((x) => typeof x === 'number')) {
      tensors.set(path, new Tensor(Float64Array.from(v as number[]), [v.length]));
      return { $tensor: path, $array: true };
    }
    if (Array.isArray(v)) return v.map((x, i) => walk(x, `${path}.${i}`));
    if (v instanceof Map) return { $map: [...v.entries()].map(([k, x], i) => [k, walk(x, `${path}.${i}`)]) };
    if (v && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) if (typeof x !== 'function' && x !== undefined) out[k] = walk(x, `${path}.${k}`);
      return out;
    }
    return v;
  };
  return walk(value, prefix.replace(/\.$/, ''));
}

/** The inverse of `packState`; objects come back without prototype, so no key is special. */
export function unpackState(value: unknown, tensors: ReadonlyMap<string, Tensor>, source: string): unknown {
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if (typeof o.$tensor === 'string') {
        const t = tensors.get(o.$tensor);
        if (!t) throw new CliError(`${source}: corrupt checkpoint: it refers to tensor '${o.$tensor}', which the file does not hold`);
        if (o.$array) return Array.from(t.data);
        return o.$typed ? t.data.slice() : new Tensor(t.data.slice(), t.shape);
      }
      if (typeof o.$num === 'string') {
        if (!['NaN', 'Infinity', '-Infinity'].includes(o.$num)) throw new CliError(`${source}: corrupt checkpoint: '${o.$num}' is not a number`);
        return Number(o.$num);
      }
      if (Array.isArray(o.$map)) {
        return new Map((o.$map as unknown[]).map((pair) => {
          if (!Array.isArray(pair) || pair.length !== 2) throw new CliError(`${source}: corrupt checkpoint: a map entry is not a [key, value] pair`);
          return [pair[0], walk(pair[1])];
        }));
      }
      const out: Record<string, unknown> = Object.create(null);
      for (const [k, x] of Object.entries(o)) out[k] = walk(x);
      return out;
    }
    return v;
  };
  return walk(value);
}

export interface CheckpointData {
  config: Record<string, unknown>;
  step: number;
  model: Record<string, Tensor>;
  optimizer?: unknown;
  scheduler?: unknown;
  rng?: unknown;
  /** The state of the generator of dropout and zoneout masks, for runs that draw them. */
  maskRng?: unknown;
}

/** The bytes of a checkpoint. */
export function encodeCheckpoint(data: CheckpointData): Uint8Array {
  const tensors = new Map<string, Tensor>();
  for (const [name, t] of Object.entries(data.model)) {
    if (name.startsWith(OPTIMIZER_PREFIX) || name.startsWith(SCHEDULER_PREFIX)) throw new CliError(`model parameter '${name}' clashes with the optimizer's prefix`);
    tensors.set(name, t);
  }
  const metadata: Record<string, string> = {
    format: CHECKPOINT_FORMAT,
    config: JSON.stringify(data.config),
    step: String(data.step),
  };
  if (data.optimizer !== undefined) metadata.optimizer = JSON.stringify(packState(data.optimizer, OPTIMIZER_PREFIX, tensors));
  if (data.scheduler !== undefined) metadata.scheduler = JSON.stringify(packState(data.scheduler, SCHEDULER_PREFIX, tensors));
  if (data.rng !== undefined) metadata.rng = JSON.stringify(data.rng);
  if (data.maskRng !== undefined) metadata.maskRng = JSON.stringify(data.maskRng);
  return saveSafetensors(tensors, metadata);
}

/** A checkpoint whose header and metadata are checked and whose tensors are not read yet. */
export interface CheckpointHeader {
  /** How errors name the checkpoint: its file's path in the CLI. */
  path: string;
  bytes: Uint8Array;
  entries: ReadonlyMap<string, HeaderEntry>;
  metadata: Record<string, string>;
  config: Record<string, unknown>;
  step: number;
}

function cliErrorOf(err: unknown): unknown {
  if (err instanceof SafetensorsError) return new CliError(`${err.source}: ${err.reason}`);
  return err;
}

/** The names of a checkpoint's model tensors (not the optimizer's or the schedule's). */
export function isModelTensor(name: string): boolean {
  return !name.startsWith(OPTIMIZER_PREFIX) && !name.startsWith(SCHEDULER_PREFIX);
}

/**
 * Checks a checkpoint's header and metadata (format, config, step) in its bytes; nothing is
 * allocated but the JSON. `path` names the checkpoint in errors (the file's path in the CLI).
 */
export function parseCheckpointHeader(bytes: Uint8Array, path: string): CheckpointHeader {
  let header: SafetensorsHeader;
  try {
    header = readSafetensorsHeader(bytes, { source: path });
  } catch (err) {
    throw cliErrorOf(err);
  }
  const md = header.metadata;
  if (md.format !== CHECKPOINT_FORMAT) {
    const older = md.format === 'seqgrad.checkpoint.v1' ? ` (it is ${md.format}, whose config named files to load; train it again)` : '';
    throw new CliError(`${path}: not a seqgrad checkpoint: its metadata has no format '${CHECKPOINT_FORMAT}'${older}`);
  }
  const config = parseJson(path, md, 'config');
  if (!config || typeof config !== 'object' || Array.isArray(config)) throw new CliError(`${path}: corrupt checkpoint: no training config in its metadata`);
  const step = Number(md.step);
  if (!/^\d+$/.test(md.step ?? '') || !Number.isSafeInteger(step)) throw new CliError(`${path}: corrupt checkpoint: step '${md.step}' is not a non-negative integer`);
  return { path, bytes, entries: header.entries, metadata: md, config: config as Record<string, unknown>, step };
}

function parseJson(path: string, md: Record<string, string>, key: string): unknown {
  if (md[key] === undefined) return undefined;
  try {
    return JSON.parse(md[key]!);
  } catch {
    throw new CliError(`${path}: corrupt checkpoint: metadata '${key}' is not JSON`);
  }
}

/**
 * Reads a checked checkpoint's tensors: the model's must be exactly `modelSpec` (names, dtype,
 * shapes; compared before any tensor is read), the rest the optimizer's and the schedule's.
 */
export function loadCheckpointTensors(ck: CheckpointHeader, modelSpec: ReadonlyMap<string, TensorSpec>): CheckpointData {
  for (const name of ck.entries.keys()) {
    if (isModelTensor(name) && !modelSpec.has(name)) throw new CliError(`${ck.path} does not match the model: the file has tensor '${name}', which the model does not`);
  }
  let tensors: Map<string, Tensor>;
  try {
    tensors = loadSafetensors(ck.bytes, { source: ck.path, expect: modelSpec, strict: false }).tensors;
  } catch (err) {
    if (err instanceof SafetensorsError && / is expected$| is missing from the file$/.test(err.reason)) {
      throw new CliError(`${ck.path} does not match the model: ${err.reason.replace(/ is expected$/, ' in the model')}`);
    }
    throw cliErrorOf(err);
  }
  const model: Record<string, Tensor> = Object.create(null);
  for (const [name, t] of tensors) if (isModelTensor(name)) model[name] = t;
  const md = ck.metadata;
  return {
    config: ck.config,
    step: ck.step,
    model,
    optimizer: md.optimizer === undefined ? undefined : unpackState(parseJson(ck.path, md, 'optimizer'), tensors, ck.path),
    scheduler: md.scheduler === undefined ? undefined : unpackState(parseJson(ck.path, md, 'scheduler'), tensors, ck.path),
    rng: parseJson(ck.path, md, 'rng'),
    maskRng: parseJson(ck.path, md, 'maskRng'),
  };
}

/** The spec of a model's parameters (float32 or float64 tensors by name) for `loadCheckpointTensors`. */
export function specOf(named: readonly [string, Tensor][]): Map<string, TensorSpec> {
  return new Map(named.map(([n, p]) => [n, { dtype: p.dtype === 'float64' ? 'F64' : 'F32', shape: p.shape }]));
}
