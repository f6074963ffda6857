/**
 * Training checkpoints as safetensors files.
 *
 * Tensors: the model's parameters under PyTorch's names (`rnn.weight_ih_l0`, `head.weight`, …),
 * so `safetensors.torch.load_file` + `load_state_dict` read them; the optimizer's tensors under
 * `optimizer.*`. Metadata (strings, as the format requires): the format tag, the training config,
 * the step, the data generator's state, and the optimizer's and schedule's state dicts as JSON
 * in which each tensor is a reference `{"$tensor": "optimizer.…"}`.
 */
import { Tensor } from '@seqgrad/autograd';
import { CliError } from './errors.js';
import { type SafeTensor, SafetensorsError, readSafetensors, writeSafetensorsAtomic } from './safetensors.js';

export const CHECKPOINT_FORMAT = 'seqgrad.checkpoint.v1';
export const OPTIMIZER_PREFIX = 'optimizer.';

export function toSafe(t: Tensor): SafeTensor {
  const dtype = t.dtype === 'float32' ? 'F32' : t.dtype === 'float64' ? 'F64' : 'I32';
  return { dtype, shape: [...t.shape], data: t.data.slice() };
}

export function fromSafe(s: SafeTensor): Tensor {
  return new Tensor(s.data, s.shape);
}

/**
 * Replaces every Tensor (and typed array) inside `value` by `{ $tensor: name }`, collecting the
 * tensors; non-finite numbers become `{ $num: "Infinity" }` so JSON keeps them.
 */
export function packState(value: unknown, prefix: string, tensors: Map<string, SafeTensor>): unknown {
  const walk = (v: unknown, path: string): unknown => {
    if (v instanceof Tensor) {
      tensors.set(path, toSafe(v));
      return { $tensor: path };
    }
    if (v instanceof Float32Array || v instanceof Float64Array || v instanceof Int32Array) {
      tensors.set(path, toSafe(new Tensor(v.slice(), [v.length])));
      return { $tensor: path, $typed: true };
    }
    if (typeof v === 'number' && !Number.isFinite(v)) return { $num: String(v) };
    // Long numeric arrays (optimizer buffers) go into the tensor block as float64: exact for
    // values that came from float32 or float64 buffers, and far smaller than JSON.
    if (Array.isArray(v) && v.length > 8 && v.every((x) => typeof x === 'number')) {
      tensors.set(path, { dtype: 'F64', shape: [v.length], data: Float64Array.from(v as number[]) });
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

/** The inverse of `packState`. */
export function unpackState(value: unknown, tensors: ReadonlyMap<string, SafeTensor>, source: string): unknown {
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if (typeof o.$tensor === 'string') {
        const t = tensors.get(o.$tensor);
        if (!t) throw new CliError(`${source}: the checkpoint refers to tensor '${o.$tensor}', which the file does not hold`);
        if (o.$array) return Array.from(t.data);
        return o.$typed ? t.data.slice() : fromSafe(t);
      }
      if (typeof o.$num === 'string') return Number(o.$num);
      if (Array.isArray(o.$map)) return new Map((o.$map as [unknown, unknown][]).map(([k, x]) => [k, walk(x)]));
      const out: Record<string, unknown> = {};
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
  extra?: Record<string, unknown>;
}

/** Writes a checkpoint atomically (temporary file, fsync, rename). */
export function saveCheckpoint(path: string, data: CheckpointData): void {
  const tensors = new Map<string, SafeTensor>();
  for (const [name, t] of Object.entries(data.model)) {
    if (name.startsWith(OPTIMIZER_PREFIX)) throw new Error(`model parameter '${name}' clashes with the optimizer prefix`);
    tensors.set(name, toSafe(t));
  }
  const metadata: Record<string, string> = {
    format: CHECKPOINT_FORMAT,
    config: JSON.stringify(data.config),
    step: String(data.step),
  };
  if (data.optimizer !== undefined) metadata.optimizer = JSON.stringify(packState(data.optimizer, `${OPTIMIZER_PREFIX}`, tensors));
  if (data.scheduler !== undefined) metadata.scheduler = JSON.stringify(packState(data.scheduler, 'scheduler.', tensors));
  if (data.rng !== undefined) metadata.rng = JSON.stringify(data.rng);
  if (data.extra) metadata.extra = JSON.stringify(data.extra);
  writeSafetensorsAtomic(path, tensors, metadata);
}

/** Reads a checkpoint; a file that is not a seqgrad checkpoint is a one-line CliError. */
export function loadCheckpoint(path: string): CheckpointData {
  let file;
  try {
    file = readSafetensors(path);
  } catch (err) {
    if (err instanceof SafetensorsError) throw new CliError(err.message);
    throw err;
  }
  const md = file.metadata;
  if (md.format !== CHECKPOINT_FORMAT) {
    throw new CliError(`${path}: not a seqgrad checkpoint (its metadata has no format '${CHECKPOINT_FORMAT}'); safetensors weights alone load with --weights where supported`);
  }
  const parse = (key: string): unknown => {
    if (md[key] === undefined) return undefined;
    try {
      return JSON.parse(md[key]!);
    } catch {
      throw new CliError(`${path}: corrupt checkpoint: metadata '${key}' is not JSON`);
    }
  };
  const model: Record<string, Tensor> = {};
  for (const [name, t] of file.tensors) if (!name.startsWith(OPTIMIZER_PREFIX) && !name.startsWith('scheduler.')) model[name] = fromSafe(t);
  const step = Number(md.step);
  if (!Number.isInteger(step) || step < 0) throw new CliError(`${path}: corrupt checkpoint: step '${md.step}' is not a non-negative integer`);
  const config = parse('config');
  if (!config || typeof config !== 'object') throw new CliError(`${path}: corrupt checkpoint: no training config in its metadata`);
  return {
    config: config as Record<string, unknown>,
    step,
    model,
    optimizer: md.optimizer === undefined ? undefined : unpackState(parse('optimizer'), file.tensors, path),
    scheduler: md.scheduler === undefined ? undefined : unpackState(parse('scheduler'), file.tensors, path),
    rng: parse('rng'),
    extra: parse('extra') as Record<string, unknown> | undefined,
  };
}

/**
 * Checks a state dict against a model's named parameters before loading, so the error names
 * the first tensor that differs (missing, unexpected, or of another shape) in one line.
 */
export function checkStateDictMatches(source: string, have: Record<string, Tensor>, want: readonly [string, Tensor][]): void {
  const wantMap = new Map(want);
  for (const [name, p] of want) {
    const t = have[name];
    if (!t) throw new CliError(`${source} does not match the model: tensor '${name}' ${fmtShape(p.shape)} is missing from the file`);
    if (t.shape.length !== p.shape.length || t.shape.some((d, i) => d !== p.shape[i])) {
      throw new CliError(`${source} does not match the model: tensor '${name}' has shape ${fmtShape(t.shape)} in the file but ${fmtShape(p.shape)} in the model`);
    }
  }
  for (const name of Object.keys(have)) {
    if (!wantMap.has(name)) throw new CliError(`${source} does not match the model: the file has tensor '${name}', which the model does not`);
  }
}

function fmtShape(s: readonly number[]): string {
  return `[${s.join(', ')}]`;
}
