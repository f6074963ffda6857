import { type BackwardResult, installEngineHooks, type Node, runBackward, setGradEnabled } from './engine.js';
import { MAX_NUMEL, SeqgradError, type Shape, checkOptions, checkShape, fmt, numel, sameShape, show, stridesOf } from './errors.js';
import { Generator, defaultGenerator } from './random.js';
import * as E from './ops/elementwise.js';
import * as R from './ops/reduce.js';
import * as M from './ops/matmul.js';
import * as S from './ops/shape.js';
import * as I from './ops/indexing.js';
import * as N from './ops/nn.js';

export type FloatDType = 'float32' | 'float64';
/** `int32` holds indices and integer targets; it never requires grad. */
export type DType = FloatDType | 'int32';
export type TypedArray = Float32Array | Float64Array | Int32Array;
export type NestedArray = number | boolean | readonly NestedArray[];
type Operand = Tensor | number;

/** A zero-filled typed array of `n` elements for `dtype`. @example arrayFor('float64', 3); // Float64Array [0, 0, 0] */
export function arrayFor(dtype: DType, n: number): TypedArray {
  if (dtype === 'float32') return new Float32Array(n);
  if (dtype === 'float64') return new Float64Array(n);
  if (dtype === 'int32') return new Int32Array(n);
  throw new SeqgradError('tensor', `unknown dtype '${String(dtype)}' (expected 'float32', 'float64' or 'int32')`);
}

export function dtypeOf(data: TypedArray): DType {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Float64Array) return 'float64';
  if (data instanceof Int32Array) return 'int32';
  throw new SeqgradError('tensor', 'data must be a Float32Array, Float64Array or Int32Array');
}

/** In-place write counters, per buffer: views of one buffer share their counter. */
const versions = new WeakMap<TypedArray, number>();

/**
 * An n-dimensional array with reverse-mode autograd: a contiguous row-major typed array
 * plus a shape. Ops never modify a tensor; optimizers update `data` in place under `noGrad`.
 *
 * @example
 * const x = tensor([[1, 2], [3, 4]], { requiresGrad: true });
 * x.mul(x).sum().backward();
 * x.grad!.toArray(); // [[2, 4], [6, 8]]
 */
export class Tensor {
  readonly shape: readonly number[];
  readonly dtype: DType;
  /**
   * The values, row-major. Mutating it in place bypasses autograd (like PyTorch's `.data`);
   * call `bumpVersion()` afterwards so a backward that saved this tensor can tell.
   */
  readonly data: TypedArray;
  private _grad: Tensor | null = null;
  /** Optional name, used in gradcheck messages. */
  name: string | undefined;
  private _requiresGrad = false;
  private _gradFn: Node | null = null;
  private _outputIndex = 0;

  constructor(data: TypedArray, shape: Shape, requiresGrad = false) {
    if (numel(shape) !== data.length) {
      throw new SeqgradError('tensor', `shape ${fmt(shape)} holds ${numel(shape)} elements but data has ${data.length}`);
    }
    this.data = data;
    this.shape = Object.freeze([...shape]);
    this.dtype = dtypeOf(data);
    if (requiresGrad) this.requiresGrad = true;
  }

  /**
   * The gradient accumulated by `backward()` (leaves, and non-leaves after `retainGrad()`).
   * Settable, like PyTorch's: `null` resets it; a tensor must have this tensor's shape.
   */
  get grad(): Tensor | null {
    return this._grad;
  }
  set grad(g: Tensor | null) {
    if (g !== null) {
      if (!(g instanceof Tensor)) throw new SeqgradError('grad', `must be a Tensor or null, got ${typeof g}`);
      if (!sameShape(g.shape, this.shape)) {
        throw new SeqgradError('grad', `assigned gradient${fmt(g.shape)} does not match the tensor's shape ${fmt(this.shape)}`);
      }
      if (g.dtype !== this.dtype) {
        throw new SeqgradError('grad', `assigned gradient${fmt(g.shape)} is ${g.dtype} but the tensor is ${this.dtype}`);
      }
    }
    this._grad = g;
  }

  /** Does autograd track this tensor? Settable on leaves only. */
  get requiresGrad(): boolean {
    return this._requiresGrad;
  }
  set requiresGrad(v: boolean) {
    if (this._gradFn && !v) {
      throw new SeqgradError('requiresGrad', 'cannot turn off requiresGrad of a non-leaf tensor; use detach()');
    }
    if (v && this.dtype === 'int32') {
      throw new SeqgradError('requiresGrad', `only float tensors can require grad, this one is int32 ${fmt(this.shape)}`);
    }
    this._requiresGrad = v;
  }
  /** The node that produced this tensor (null for leaves). */
  get gradFn(): Node | null {
    return this._gradFn;
  }
  /** Which output of `gradFn` this tensor is. */
  get outputIndex(): number {
    return this._outputIndex;
  }
  /** A leaf was created by the user, not by a recorded op. */
  get isLeaf(): boolean {
    return this._gradFn === null;
  }
  get ndim(): number {
    return this.shape.length;
  }
  get size(): number {
    return this.data.length;
  }

  /** @internal Binds this tensor as output `i` of a recorded node. */
  _attach(node: Node, i: number): void {
    this._gradFn = node;
    this._outputIndex = i;
    this._requiresGrad = true;
  }

  /**
   * How many in-place writes the values have had. Every in-place write the library makes
   * (optimizer steps, `init.*`, `loadStateDict`, clipping) bumps it; tensors sharing a buffer
   * (`reshape`, `detach`) share it. An op that saved this tensor for backward refuses to run
   * its backward once the version has changed, like PyTorch's version counter.
   */
  get version(): number {
    return versions.get(this.data) ?? 0;
  }

  /**
   * Records an in-place write: call it after changing `data` yourself, so that a backward
   * that needs the old values fails by name instead of returning a wrong gradient.
   *
   * @example
   * const y = x.tanh();   // tanh saves y for its backward
   * y.data[0] = 0; y.bumpVersion();
   * y.sum().backward();   // throws: tanh: a tensor needed for gradient computation has been modified ...
   */
  bumpVersion(): this {
    versions.set(this.data, (versions.get(this.data) ?? 0) + 1);
    return this;
  }

  /** The single value of a one-element tensor. */
  item(): number {
    if (this.data.length !== 1) {
      throw new SeqgradError('item', `only one-element tensors can be converted to a number, got shape ${fmt(this.shape)}`);
    }
    return this.data[0]!;
  }

  /** Nested arrays (a number for a 0-d tensor). */
  toArray(): NestedArray {
    const build = (dim: number, off: number): NestedArray => {
      if (dim === this.shape.length) return this.data[off]!;
      const stride = numel(this.shape.slice(dim + 1));
      return Array.from({ length: this.shape[dim]! }, (_, i) => build(dim + 1, off + i * stride));
    };
    return build(0, 0);
  }

  toString(): string {
    const n = this.data.length;
    const head = Array.from(this.data.subarray(0, Math.min(n, 6)), (v) => Number(v.toPrecision(5)));
    const vals = n > 6 ? `${head.join(', ')}, …` : head.join(', ');
    const grad = this._gradFn ? `, gradFn=${this._gradFn.name}` : this._requiresGrad ? ', requiresGrad=true' : '';
    return `Tensor(shape=${fmt(this.shape)}, dtype=${this.dtype}${grad}, [${vals}])`;
  }

  /** True when no element is NaN or ±Infinity. */
  isFinite(): boolean {
    const d = this.data;
    for (let i = 0; i < d.length; i++) if (!Number.isFinite(d[i]!)) return false;
    return true;
  }

  /** A tensor sharing this one's values, cut from the graph. */
  detach(): Tensor {
    return new Tensor(this.data, this.shape);
  }

  /** A copy with its own buffer; differentiable. */
  clone(): Tensor {
    return E.clone(this);
  }

  /** Keeps `.grad` on this non-leaf tensor after backward (for dL/dh_t at each step). */
  retainGrad(): this {
    if (!this._requiresGrad) {
      throw new SeqgradError('retainGrad', `can't retain grad on a tensor that does not require grad (shape ${fmt(this.shape)})`);
    }
    if (this._gradFn) {
      const node = this._gradFn;
      node.retained ??= [];
      if (!node.retained.some((r) => r.tensor === this)) node.retained.push({ tensor: this, outputIndex: this._outputIndex });
    }
    return this;
  }

  /**
   * Accumulates d(this)/d(leaf) into every leaf's `.grad`. A non-scalar needs `grad`
   * (the vector in the vector-Jacobian product), as in PyTorch.
   */
  backward(grad?: Tensor, opts: { retainGraph?: boolean; createGraph?: boolean } = {}): void {
    if (!this._requiresGrad) {
      throw new SeqgradError('backward', `tensor ${fmt(this.shape)} does not require grad and has no gradFn`);
    }
    let g = grad;
    if (g === undefined) {
      if (this.data.length !== 1) {
        throw new SeqgradError('backward', `grad can be implicitly created only for one-element outputs; this output has shape ${fmt(this.shape)}`);
      }
      g = onesLike(this);
    } else if (!(g instanceof Tensor)) {
      throw new SeqgradError('backward', `grad must be a Tensor of the output's shape ${fmt(this.shape)}, got ${show(g)}`);
    } else if (!sameShape(g.shape, this.shape)) {
      throw new SeqgradError('backward', `grad${fmt(g.shape)} does not match the output's shape ${fmt(this.shape)}`);
    }
    runBackward([this], [g], opts);
  }

  /** Converts to another dtype (differentiable between float dtypes). */
  to(dtype: DType): Tensor {
    return E.cast(this, dtype);
  }
  float(): Tensor {
    return this.to('float32');
  }
  double(): Tensor {
    return this.to('float64');
  }

  // elementwise
  add(b: Operand): Tensor { return E.add(this, b); }
  sub(b: Operand): Tensor { return E.sub(this, b); }
  mul(b: Operand): Tensor { return E.mul(this, b); }
  div(b: Operand): Tensor { return E.div(this, b); }
  neg(): Tensor { return E.neg(this); }
  pow(b: Operand): Tensor { return E.pow(this, b); }
  square(): Tensor { return E.square(this); }
  exp(): Tensor { return E.exp(this); }
  log(): Tensor { return E.log(this); }
  sqrt(): Tensor { return E.sqrt(this); }
  abs(): Tensor { return E.abs(this); }
  tanh(): Tensor { return E.tanh(this); }
  sigmoid(): Tensor { return E.sigmoid(this); }
  relu(): Tensor { return E.relu(this); }
  clamp(min?: number | null, max?: number | null): Tensor { return E.clamp(this, min, max); }
  maximum(b: Operand): Tensor { return E.maximum(this, b); }
  minimum(b: Operand): Tensor { return E.minimum(this, b); }
  eq(b: Operand): Tensor { return E.eq(this, b); }
  ne(b: Operand): Tensor { return E.ne(this, b); }
  lt(b: Operand): Tensor { return E.lt(this, b); }
  le(b: Operand): Tensor { return E.le(this, b); }
  gt(b: Operand): Tensor { return E.gt(this, b); }
  ge(b: Operand): Tensor { return E.ge(this, b); }

  // reductions
  sum(axes?: number | readonly number[], keepdim = false): Tensor { return R.sum(this, axes, keepdim); }
  mean(axes?: number | readonly number[], keepdim = false): Tensor { return R.mean(this, axes, keepdim); }
  max(axes?: number | readonly number[], keepdim = false): Tensor { return R.max(this, axes, keepdim); }
  min(axes?: number | readonly number[], keepdim = false): Tensor { return R.min(this, axes, keepdim); }
  argmax(axis?: number, keepdim = false): Tensor { return R.argmax(this, axis, keepdim); }
  argmin(axis?: number, keepdim = false): Tensor { return R.argmin(this, axis, keepdim); }
  logsumexp(axes?: number | readonly number[], keepdim = false): Tensor { return R.logsumexp(this, axes, keepdim); }
  norm(p: number = 2, axes?: number | readonly number[], keepdim = false): Tensor { return R.norm(this, p, axes, keepdim); }
  var(axes?: number | readonly number[], opts?: { keepdim?: boolean; correction?: number }): Tensor { return R.variance(this, axes, opts); }

  // linear algebra
  matmul(b: Tensor): Tensor { return M.matmul(this, b); }

  // shape
  reshape(...shape: number[] | [readonly number[]]): Tensor { return S.reshape(this, flatArgs(shape)); }
  view(...shape: number[] | [readonly number[]]): Tensor { return S.reshape(this, flatArgs(shape)); }
  flatten(startDim = 0, endDim = -1): Tensor { return S.flatten(this, startDim, endDim); }
  squeeze(axis?: number): Tensor { return S.squeeze(this, axis); }
  unsqueeze(axis: number): Tensor { return S.unsqueeze(this, axis); }
  expand(...shape: number[] | [readonly number[]]): Tensor { return S.expand(this, flatArgs(shape)); }
  permute(...perm: number[] | [readonly number[]]): Tensor { return S.permute(this, flatArgs(perm)); }
  transpose(dim0 = -2, dim1 = -1): Tensor { return S.transpose(this, dim0, dim1); }
  get T(): Tensor { return S.transpose(this, -2, -1); }
  narrow(axis: number, start: number, length: number): Tensor { return S.narrow(this, axis, start, length); }
  slice(axis: number, start?: number, end?: number): Tensor { return S.slice(this, axis, start, end); }
  select(axis: number, index: number): Tensor { return S.select(this, axis, index); }
  split(sizeOrSections: number | readonly number[], axis = 0): Tensor[] { return S.split(this, sizeOrSections, axis); }
  chunk(chunks: number, axis = 0): Tensor[] { return S.chunk(this, chunks, axis); }
  unbind(axis = 0): Tensor[] { return S.unbind(this, axis); }
  flip(axes: number | readonly number[]): Tensor { return S.flip(this, axes); }

  // indexing
  indexSelect(axis: number, index: Tensor | readonly number[]): Tensor { return I.indexSelect(this, axis, index); }
  gather(axis: number, index: Tensor): Tensor { return I.gather(this, axis, index); }

  // nn
  softmax(axis = -1): Tensor { return N.softmax(this, axis); }
  logSoftmax(axis = -1): Tensor { return N.logSoftmax(this, axis); }
}

function flatArgs(args: number[] | [readonly number[]]): number[] {
  return args.length === 1 && Array.isArray(args[0]) ? [...(args[0] as readonly number[])] : (args as number[]);
}

/** Is `x` a Tensor? @example isTensor(zeros([2])); // true */
export function isTensor(x: unknown): x is Tensor {
  return x instanceof Tensor;
}

// ---------------------------------------------------------------------------------------
// Creation
// ---------------------------------------------------------------------------------------

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

/** Uniform in [low, high) (default [0, 1)), from the seeded generator. */
export function rand(shape: Shape, opts: RandomOptions & { low?: number; high?: number } = {}): Tensor {
  checkShape('rand', shape);
  checkOptions('rand', opts, ['dtype', 'requiresGrad', 'generator', 'low', 'high']);
  const g = opts.generator ?? defaultGenerator;
  const lo = opts.low ?? 0;
  const hi = opts.high ?? 1;
  checkFinite('rand', 'low', lo);
  checkFinite('rand', 'high', hi);
  if (lo > hi) throw new SeqgradError('rand', `need low <= high, got low=${lo}, high=${hi}`);
  const arr = arrayFor(opts.dtype ?? 'float32', numel(shape));
  for (let i = 0; i < arr.length; i++) arr[i] = lo + (hi - lo) * g.uniform();
  return new Tensor(arr, shape, opts.requiresGrad ?? false);
}

/** Normal with the given mean and std (default standard normal), from the seeded generator. */
export function randn(shape: Shape, opts: RandomOptions & { mean?: number; std?: number } = {}): Tensor {
  checkShape('randn', shape);
  checkOptions('randn', opts, ['dtype', 'requiresGrad', 'generator', 'mean', 'std']);
  const g = opts.generator ?? defaultGenerator;
  const mean = opts.mean ?? 0;
  const std = opts.std ?? 1;
  checkFinite('randn', 'mean', mean);
  checkFinite('randn', 'std', std);
  if (std < 0) throw new SeqgradError('randn', `std must be >= 0, got ${std}`);
  const arr = arrayFor(opts.dtype ?? 'float32', numel(shape));
  for (let i = 0; i < arr.length; i++) arr[i] = mean + std * g.normal();
  return new Tensor(arr, shape, opts.requiresGrad ?? false);
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

// ---------------------------------------------------------------------------------------
// Functional gradients
// ---------------------------------------------------------------------------------------

export interface GradOptions {
  gradOutputs?: readonly (Tensor | null)[] | Tensor;
  retainGraph?: boolean;
  createGraph?: boolean;
  allowUnused?: boolean;
}

/**
 * Gradients of `outputs` with respect to `inputs`, returned without touching `.grad`
 * (like `torch.autograd.grad`). With `createGraph` the results are differentiable.
 *
 * @example
 * const x = tensor([2], { dtype: 'float64', requiresGrad: true });
 * const [dx] = grad(x.pow(3).sum(), [x], { createGraph: true }); // 3x² = 12
 * const [ddx] = grad(dx!.sum(), [x]);                             // 6x = 12
 */
export function grad(outputs: Tensor | readonly Tensor[], inputs: Tensor | readonly Tensor[], opts: GradOptions = {}): (Tensor | null)[] {
  const outs = isTensor(outputs) ? [outputs] : [...outputs];
  const ins = isTensor(inputs) ? [inputs] : [...inputs];
  const gos = opts.gradOutputs === undefined ? [] : isTensor(opts.gradOutputs) ? [opts.gradOutputs] : [...opts.gradOutputs];
  ins.forEach((t, i) => {
    if (!t.requiresGrad) throw new SeqgradError('grad', `input ${i} (shape ${fmt(t.shape)}) does not require grad`);
  });
  const rootGrads = outs.map((o, i) => {
    if (!o.requiresGrad) throw new SeqgradError('grad', `output ${i} (shape ${fmt(o.shape)}) does not require grad`);
    const g = gos[i] ?? null;
    if (g === null) {
      if (o.size !== 1) {
        throw new SeqgradError('grad', `output ${i} has shape ${fmt(o.shape)}: grad can be implicitly created only for one-element outputs; pass gradOutputs`);
      }
      return onesLike(o);
    }
    if (!sameShape(g.shape, o.shape)) throw new SeqgradError('grad', `gradOutputs[${i}]${fmt(g.shape)} does not match output ${i}${fmt(o.shape)}`);
    return g;
  });
  return runBackward(outs, rootGrads, { ...opts, inputs: ins })!;
}

/**
 * Wraps `fn(...args)` (returning a one-element tensor) into a function that returns its
 * value and the gradients with respect to the tensor arguments at `argnums` (default 0),
 * like `jax.value_and_grad`. Arguments are not modified; their `.grad` is untouched.
 *
 * @example
 * const f = valueAndGrad((x: Tensor) => x.square().sum());
 * const [value, [dx]] = f(tensor([1, 2, 3])); // 14, [2, 4, 6]
 */
export function valueAndGrad<Args extends unknown[]>(
  fn: (...args: Args) => Tensor,
  opts: { argnums?: number | readonly number[]; createGraph?: boolean } = {},
): (...args: Args) => [Tensor, Tensor[]] {
  const argnums = typeof opts.argnums === 'number' ? [opts.argnums] : [...(opts.argnums ?? [0])];
  return (...args: Args) => {
    const wrapped = [...args] as unknown[];
    const inputs = argnums.map((i) => {
      const a = args[i];
      if (!isTensor(a)) throw new SeqgradError('valueAndGrad', `argument ${i} is not a tensor`);
      const leaf = opts.createGraph && a.requiresGrad ? a : new Tensor(a.data, a.shape, true);
      wrapped[i] = leaf;
      return leaf;
    });
    const value = setGradEnabled(true, () => fn(...(wrapped as Args)));
    if (!(value instanceof Tensor)) throw new SeqgradError('valueAndGrad', `fn must return a one-element tensor, got ${show(value)}`);
    if (value.size !== 1) throw new SeqgradError('valueAndGrad', `fn must return a one-element tensor, got shape ${fmt(value.shape)}`);
    const grads = grad(value, inputs, { allowUnused: true, createGraph: opts.createGraph }).map(
      (g, i) => g ?? zerosLike(inputs[i]!),
    );
    return [opts.createGraph ? value : value.detach(), grads];
  };
}


installEngineHooks({
  isTensor,
  zeros: (shape, dtype) => zeros(shape, { dtype: dtype as DType }),
  add: (a, b) => E.add(a, b),
  clone: (t) => {
    const c = new Tensor(t.data.slice(), t.shape);
    return c;
  },
});

export type { BackwardResult };
