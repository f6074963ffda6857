import { SeqgradError, checkOptions, fmt, show } from './errors.js';
import { MAX_NUMEL, type Shape, checkShape, numel, stridesOf } from './shapes.js';
import { Generator, defaultGenerator } from './random.js';
import { type DType, type NestedArray, Tensor, type TypedArray, arrayFor } from './tensor.js';

// Creation of tensors: from data, filled, ranges, identity, and random from the seeded generator.

export interface TensorOptions {
  dtype?: DType;
  requiresGrad?: boolean;
}

function inferShape(data: NestedArray): number[] {
  const shape: number[] = [];
  let cur: NestedArray | undefined = data;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    cur = cur[0] as NestedArray | undefined;
  }
  return shape;
}

function flattenInto(data: NestedArray, shape: number[], dim: number, out: TypedArray, pos: { i: number }): void {
  if (dim === shape.length) {
    if (Array.isArray(data)) throw new SeqgradError('tensor', `ragged nested array: expected a number at depth ${dim}`);
    if (typeof data !== 'number' && typeof data !== 'boolean') {
      // The element's position, from its flat index: data[1][0] for the third of [[..], [..]].
      const strides = stridesOf(shape);
      const path = shape.map((d, k) => `[${Math.floor(pos.i / strides[k]!) % d}]`).join('');
      throw new SeqgradError('tensor', `data${path} is ${show(data)}; a tensor holds numbers (or booleans) only`);
    }
    out[pos.i++] = Number(data);
    return;
  }
  if (!Array.isArray(data) || data.length !== shape[dim]) {
    throw new SeqgradError(
      'tensor',
      `ragged nested array: expected ${shape[dim]} elements at depth ${dim}, got ${Array.isArray(data) ? data.length : 'a number'}`,
    );
  }
  for (const v of data) flattenInto(v, shape, dim + 1, out, pos);
}

/**
 * Creates a tensor from nested arrays, a typed array or a number.
 *
 * @example
 * tensor([[1, 2], [3, 4]]);                              // float32 [2,2]
 * tensor(new Float64Array(6), { shape: [2, 3] });        // float64 [2,3]
 * tensor(3, { dtype: 'float64', requiresGrad: true });  // 0-d
 */
export function tensor(
  data: NestedArray | TypedArray | readonly number[],
  opts: TensorOptions & { shape?: Shape } = {},
): Tensor {
  checkOptions('tensor', opts, ['dtype', 'requiresGrad', 'shape']);
  if (opts.shape !== undefined) checkShape('tensor', opts.shape);
  if (typeof data !== 'number' && typeof data !== 'boolean' && !Array.isArray(data) && !ArrayBuffer.isView(data)) {
    throw new SeqgradError('tensor', `data must be a number, a nested array of numbers or a typed array, got ${show(data)}`);
  }
  let arr: TypedArray;
  let shape: number[];
  if (ArrayBuffer.isView(data)) {
    const src = data as TypedArray;
    const dtype = opts.dtype ?? (src instanceof Int32Array ? 'int32' : src instanceof Float64Array ? 'float64' : 'float32');
    arr = arrayFor(dtype, src.length);
    arr.set(src);
    shape = opts.shape ? [...opts.shape] : [src.length];
  } else {
    const dtype = opts.dtype ?? 'float32';
    shape = inferShape(data as NestedArray);
    checkShape('tensor', shape, 'the nested data\'s shape');
    arr = arrayFor(dtype, numel(shape));
    flattenInto(data as NestedArray, shape, 0, arr, { i: 0 });
    if (opts.shape) {
      if (numel(opts.shape) !== arr.length) {
        throw new SeqgradError('tensor', `shape ${fmt(opts.shape)} does not fit ${arr.length} values`);
      }
      shape = [...opts.shape];
    }
  }
  return new Tensor(arr, shape, opts.requiresGrad ?? false);
}

/** A tensor filled with `value`. */
export function full(shape: Shape, value: number, opts: TensorOptions = {}): Tensor {
  return filled('full', shape, value, opts);
}

/** The one allocation path of full/zeros/ones/…Like, naming the public function in errors. */
function filled(op: string, shape: Shape, value: number, opts: TensorOptions): Tensor {
  checkShape(op, shape);
  checkOptions(op, opts, ['dtype', 'requiresGrad']);
  if (typeof value !== 'number' && typeof value !== 'boolean') throw new SeqgradError(op, `value must be a number, got ${show(value)}`);
  const arr = arrayFor(opts.dtype ?? 'float32', numel(shape));
  if (value !== 0) arr.fill(value);
  return new Tensor(arr, shape, opts.requiresGrad ?? false);
}
/**
 * A tensor of `shape` filled with 0.
 *
 * @example
 * zeros([2, 3], { dtype: 'float64', requiresGrad: true }); // float64 [2,3]
 */
export function zeros(shape: Shape, opts: TensorOptions = {}): Tensor {
  return filled('zeros', shape, 0, opts);
}
/**
 * A tensor of `shape` filled with 1.
 *
 * @example
 * ones([3]); // [1, 1, 1]
 */
export function ones(shape: Shape, opts: TensorOptions = {}): Tensor {
  return filled('ones', shape, 1, opts);
}
/**
 * Zeros with `t`'s shape and dtype (`opts` may change the dtype or set requiresGrad).
 *
 * @example
 * zerosLike(randn([2, 3])); // float32 [2,3] of 0
 */
export function zerosLike(t: Tensor, opts: TensorOptions = {}): Tensor {
  assertTensorArg('zerosLike', t);
  return filled('zerosLike', t.shape, 0, { dtype: t.dtype, ...opts });
}
/**
 * Ones with `t`'s shape and dtype.
 *
 * @example
 * onesLike(randn([2])); // [1, 1]
 */
export function onesLike(t: Tensor, opts: TensorOptions = {}): Tensor {
  assertTensorArg('onesLike', t);
  return filled('onesLike', t.shape, 1, { dtype: t.dtype, ...opts });
}
/**
 * `value` everywhere, with `t`'s shape and dtype.
 *
 * @example
 * fullLike(randn([2]), 7); // [7, 7]
 */
export function fullLike(t: Tensor, value: number, opts: TensorOptions = {}): Tensor {
  assertTensorArg('fullLike', t);
  return filled('fullLike', t.shape, value, { dtype: t.dtype, ...opts });
}

/** Values start, start+step, … below end (like `torch.arange`). */
export function arange(start: number, end?: number, step = 1, opts: TensorOptions = {}): Tensor {
  if (end === undefined) [start, end] = [0, start];
  if (typeof start !== 'number' || !Number.isFinite(start)) throw new SeqgradError('arange', `start must be a finite number, got ${show(start)}`);
  if (typeof end !== 'number' || !Number.isFinite(end)) throw new SeqgradError('arange', `end must be a finite number, got ${show(end)}`);
  if (step === 0 || typeof step !== 'number' || !Number.isFinite(step)) throw new SeqgradError('arange', `step must be a non-zero finite number, got ${show(step)}`);
  checkOptions('arange', opts, ['dtype', 'requiresGrad']);
  const n = Math.max(0, Math.ceil((end - start) / step));
  if (n > MAX_NUMEL) {
    throw new SeqgradError('arange', `start=${start}, end=${end}, step=${step} gives ${n} values, more than the ${MAX_NUMEL} a tensor can hold`);
  }
  const arr = arrayFor(opts.dtype ?? 'float32', n);
  for (let i = 0; i < n; i++) arr[i] = start + i * step;
  return new Tensor(arr, [n], opts.requiresGrad ?? false);
}

/** The n×m identity matrix. */
export function eye(n: number, m = n, opts: TensorOptions = {}): Tensor {
  checkShape('eye', [n, m]);
  const arr = arrayFor(opts.dtype ?? 'float32', n * m);
  for (let i = 0; i < Math.min(n, m); i++) arr[i * m + i] = 1;
  return new Tensor(arr, [n, m], opts.requiresGrad ?? false);
}

export interface RandomOptions extends TensorOptions {
  generator?: Generator;
}

function assertTensorArg(op: string, t: unknown): asserts t is Tensor {
  if (!(t instanceof Tensor)) throw new SeqgradError(op, `t must be a Tensor, got ${show(t)}`);
}

/** Throws unless `v` (an option of a random function) is a finite number. */
function checkFinite(op: string, name: string, v: unknown): void {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new SeqgradError(op, `${name} must be a finite number, got ${show(v)}`);
}

/**
 * The one path of rand and randn: checks the shape, the options and the two distribution
 * parameters (finite, then `relation` returns a complaint or null), then draws every element.
 */
function sampled(
  op: string, shape: Shape, opts: RandomOptions, params: Record<string, number>,
  relation: () => string | null, draw: (g: Generator) => number,
): Tensor {
  checkShape(op, shape);
  checkOptions(op, opts, ['dtype', 'requiresGrad', 'generator', ...Object.keys(params)]);
  for (const [name, v] of Object.entries(params)) checkFinite(op, name, v);
  const complaint = relation();
  if (complaint) throw new SeqgradError(op, complaint);
  const g = opts.generator ?? defaultGenerator;
  const arr = arrayFor(opts.dtype ?? 'float32', numel(shape));
  for (let i = 0; i < arr.length; i++) arr[i] = draw(g);
  return new Tensor(arr, shape, opts.requiresGrad ?? false);
}

/** Uniform in [low, high) (default [0, 1)), from the seeded generator. */
export function rand(shape: Shape, opts: RandomOptions & { low?: number; high?: number } = {}): Tensor {
  const lo = opts?.low ?? 0;
  const hi = opts?.high ?? 1;
  return sampled('rand', shape, opts, { low: lo, high: hi }, () => (lo > hi ? `need low <= high, got low=${lo}, high=${hi}` : null),
    (g) => lo + (hi - lo) * g.uniform());
}

/** Normal with the given mean and std (default standard normal), from the seeded generator. */
export function randn(shape: Shape, opts: RandomOptions & { mean?: number; std?: number } = {}): Tensor {
  const mean = opts?.mean ?? 0;
  const std = opts?.std ?? 1;
  return sampled('randn', shape, opts, { mean, std }, () => (std < 0 ? `std must be >= 0, got ${std}` : null),
    (g) => mean + std * g.normal());
}

/** Integers uniform in [low, high) (dtype int32 unless given), from the seeded generator. */
export function randint(low: number, high: number, shape: Shape, opts: RandomOptions = {}): Tensor {
  checkShape('randint', shape);
  checkOptions('randint', opts, ['dtype', 'requiresGrad', 'generator']);
  if (!Number.isInteger(low) || !Number.isInteger(high) || high <= low) {
    throw new SeqgradError('randint', `need integers low < high, got low=${low}, high=${high}`);
  }
  const g = opts.generator ?? defaultGenerator;
  const arr = arrayFor(opts.dtype ?? 'int32', numel(shape));
  for (let i = 0; i < arr.length; i++) arr[i] = g.integer(low, high);
  return new Tensor(arr, shape, false);
}


export interface CategoricalOptions {
  /** Divides the logits before the softmax; 0 takes the largest logit (greedy). Default 1. */
  temperature?: number;
  generator?: Generator;
}

/**
 * One draw per row from softmax(logits / temperature), like `jax.random.categorical` or
 * `torch.multinomial(softmax(logits / T), 1)`: logits (V) gives a 0-d int32 tensor, (B, V) an
 * int32 tensor (B). Temperature 0 takes the first largest logit. Each row uses one uniform draw
 * of the generator (none at temperature 0).
 *
 * @example
 * const next = categorical(tensor([2, 0, -1]), { temperature: 0.7, generator: new Generator(3) });
 * next.item(); // an index in 0..2, most often 0
 */
export function categorical(logits: Tensor, opts: CategoricalOptions = {}): Tensor {
  const op = 'categorical';
  if (!(logits instanceof Tensor)) throw new SeqgradError(op, `logits must be a Tensor, got ${show(logits)}`);
  checkOptions(op, opts, ['temperature', 'generator']);
  if ((logits.ndim !== 1 && logits.ndim !== 2) || logits.dtype === 'int32' || logits.shape[logits.ndim - 1] === 0) {
    throw new SeqgradError(op, `logits${fmt(logits.shape)} (${logits.dtype}) must be a float (V) or (B, V) tensor with V ≥ 1`);
  }
  const temperature = opts.temperature ?? 1;
  if (!(Number.isFinite(temperature) && temperature >= 0)) throw new SeqgradError(op, `temperature must be a finite number ≥ 0, got ${show(temperature)}`);
  const g = opts.generator ?? defaultGenerator;
  const V = logits.shape[logits.ndim - 1]!;
  const rows = logits.ndim === 1 ? 1 : logits.shape[0]!;
  const d = logits.data;
  const out = new Int32Array(rows);
  const p = new Float64Array(V);
  for (let r = 0; r < rows; r++) {
    const offset = r * V;
    let best = 0;
    for (let c = 0; c < V; c++) {
      if (Number.isNaN(d[offset + c]!)) throw new SeqgradError(op, `logits${fmt(logits.shape)} row ${r} holds NaN at index ${c}`);
      if (d[offset + c]! > d[offset + best]!) best = c;
    }
    if (!Number.isFinite(d[offset + best]!)) throw new SeqgradError(op, `logits${fmt(logits.shape)} row ${r} has no finite largest value (${d[offset + best]})`);
    if (temperature === 0) {
      out[r] = best;
      continue;
    }
    let total = 0;
    for (let c = 0; c < V; c++) {
      p[c] = Math.exp((d[offset + c]! - d[offset + best]!) / temperature);
      total += p[c]!;
    }
    let u = g.uniform() * total;
    let pick = V - 1;
    for (let c = 0; c < V; c++) {
      u -= p[c]!;
      if (u <= 0) {
        pick = c;
        break;
      }
    }
    out[r] = pick;
  }
  return new Tensor(out, logits.ndim === 1 ? [] : [rows], false);
}
