import { installEngineHooks, type Node, runBackward } from './engine.js';
import { SeqgradError, fmt, show } from './errors.js';
import { type Shape, numel, sameShape } from './shapes.js';
import * as E from './ops/elementwise.js';
import * as R from './ops/reduce.js';
import * as M from './ops/matmul.js';
import * as S from './ops/shape.js';
import * as I from './ops/indexing.js';
import * as N from './ops/nn.js';
import type { Operand } from './ops/op.js';

export type FloatDType = 'float32' | 'float64';
/** `int32` holds indices and integer targets; it never requires grad. */
export type DType = FloatDType | 'int32';
export type TypedArray = Float32Array | Float64Array | Int32Array;
export type NestedArray = number | boolean | readonly NestedArray[];

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
      g = new Tensor(arrayFor(this.dtype, 1).fill(1), this.shape);
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

// The engine builds gradient tensors through these (it cannot import the ops: they import it).
installEngineHooks({
  isTensor,
  zeros: (shape, dtype) => new Tensor(arrayFor(dtype as DType, numel(shape)), shape),
  add: (a, b) => E.add(a, b),
  clone: (t) => new Tensor(t.data.slice(), t.shape),
  sumTo: (g, shape) => R.sumTo(g, shape),
});
