import { SeqgradError, fmt, kernels } from '@seqgrad/autograd';
import { take } from './pool.js';
import type { CellParams, FloatArray, SeqDims, SeqOptions } from './types.js';

/** A zeroed array of the same float type as `like`. */
export function alloc(like: FloatArray, n: number): FloatArray {
  return like instanceof Float64Array ? new Float64Array(n) : new Float32Array(n);
}

const { sigmoidF32, sigmoidScalar, tanhF32 } = kernels;

/**
 * tanh(v) in float64: e / (e + 2) with e = exp(2v) − 1 (Math.expm1, accurate near 0), within
 * 1 ulp of Math.tanh and a little faster than it (Node 20). v is capped at 20, where tanh is 1 in
 * float64, so e never overflows.
 */
function tanh64(v: number): number {
  const e = Math.expm1(2 * Math.min(v, 20));
  return e / (e + 2);
}

// The gate activations, one row at a time. Each is a small function with one loop per element
// type, so V8 inlines the activation into the loop (inside the large cell functions it would
// be a call per element); float32 arrays use kernels.sigmoidF32 / tanhF32, float64 Math.

/** a[o + j] = σ(a[o + j] + b[bo + j]) for j < n. */
export function addSigmoidRow(a: FloatArray, o: number, b: FloatArray, bo: number, n: number): void {
  if (a instanceof Float32Array) for (let j = 0; j < n; j++) a[o + j] = sigmoidF32(a[o + j]! + b[bo + j]!);
  else for (let j = 0; j < n; j++) a[o + j] = sigmoidScalar(a[o + j]! + b[bo + j]!);
}

/** a[o + j] = tanh(a[o + j] + b[bo + j]) for j < n. */
export function addTanhRow(a: FloatArray, o: number, b: FloatArray, bo: number, n: number): void {
  if (a instanceof Float32Array) for (let j = 0; j < n; j++) a[o + j] = tanhF32(a[o + j]! + b[bo + j]!);
  else for (let j = 0; j < n; j++) a[o + j] = tanh64(a[o + j]! + b[bo + j]!);
}

/** a[o + j] = tanh(a[o + j]) for j < n. */
export function tanhRow(a: FloatArray, o: number, n: number): void {
  if (a instanceof Float32Array) for (let j = 0; j < n; j++) a[o + j] = tanhF32(a[o + j]!);
  else for (let j = 0; j < n; j++) a[o + j] = tanh64(a[o + j]!);
}

function isFloatArray(a: unknown): a is FloatArray {
  return a instanceof Float32Array || a instanceof Float64Array;
}

/** Throws unless `a` is a float array holding exactly numel(shape) values. */
export function checkArray(fn: string, name: string, a: unknown, shape: readonly number[]): void {
  let n = 1;
  for (const d of shape) n *= d;
  if (!isFloatArray(a)) {
    throw new SeqgradError(fn, `${name}${fmt(shape)} must be a Float32Array or Float64Array, got ${a === null ? 'null' : typeof a}`);
  }
  if (a.length !== n) throw new SeqgradError(fn, `${name} has ${a.length} values but its shape ${fmt(shape)} holds ${n}`);
}

export function checkOptional(fn: string, name: string, a: unknown, shape: readonly number[]): void {
  if (a !== null && a !== undefined) checkArray(fn, name, a, shape);
}

/**
 * Validates the sizes, the parameters (G gates), x and the sequence options of a sequence
 * call; returns the state size of h (P with an LSTM projection, else H).
 */
export function checkSeq(fn: string, G: number, p: CellParams, x: unknown, dims: SeqDims, opts: SeqOptions): number {
  if (dims === null || typeof dims !== 'object') throw new SeqgradError(fn, 'dims must be an object { B, T, I, H }');
  const { B, T, I, H } = dims;
  for (const [k, v] of [['B', B], ['T', T], ['I', I], ['H', H]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new SeqgradError(fn, `dims.${k} must be a positive integer, got ${String(v)}`);
  }
  const hasProj = p.weightHr !== null && p.weightHr !== undefined;
  const P = dims.P ?? 0;
  if (P !== 0) {
    if (G !== 4) throw new SeqgradError(fn, `dims.P=${P}: only the LSTM has a projection`);
    if (!Number.isInteger(P) || P < 1 || P >= H) throw new SeqgradError(fn, `dims.P must be an integer in 1..H−1 = ${H - 1}, got ${P}`);
    if (!hasProj) throw new SeqgradError(fn, `dims.P=${P} but p.weightHr is missing (expected [${P},${H}])`);
  } else if (hasProj) {
    throw new SeqgradError(fn, `p.weightHr is given (${p.weightHr!.length} values) but dims.P is not set`);
  }
  const S = P || H;
  checkArray(fn, 'x', x, [B, T, I]);
  checkArray(fn, 'p.weightIh', p.weightIh, [G * H, I]);
  checkArray(fn, 'p.weightHh', p.weightHh, [G * H, S]);
  checkOptional(fn, 'p.biasIh', p.biasIh, [G * H]);
  checkOptional(fn, 'p.biasHh', p.biasHh, [G * H]);
  if ((p.biasIh == null) !== (p.biasHh == null)) {
    throw new SeqgradError(fn, 'p.biasIh and p.biasHh must both be given or both be null');
  }
  if (P) checkArray(fn, 'p.weightHr', p.weightHr, [P, H]);
  const L = opts.lengths;
  if (L !== undefined && L !== null) {
    if (!(L instanceof Int32Array) || L.length !== B) {
      throw new SeqgradError(fn, `opts.lengths must be an Int32Array of B=${B} lengths, got ${L instanceof Int32Array ? `${L.length} values` : typeof L}`);
    }
    for (let b = 0; b < B; b++) {
      if (L[b]! < 1 || L[b]! > T) throw new SeqgradError(fn, `opts.lengths[${b}]=${L[b]} is outside 1..T=${T}`);
    }
  }
  return S;
}

/**
 * times[s·B + b] is the time index that batch element b processes at scan step s, or −1
 * when the step is past its length. Forward scans s = 0 … T−1; reverse maps s to len−1−s.
 */
export function scanTimes(B: number, T: number, opts: SeqOptions): Int32Array {
  const times = new Int32Array(T * B);
  const L = opts.lengths;
  for (let b = 0; b < B; b++) {
    const len = L ? L[b]! : T;
    for (let s = 0; s < T; s++) times[s * B + b] = s < len ? (opts.reverse ? len - 1 - s : s) : -1;
  }
  return times;
}

/**
 * Calls `row(b, bt)` for every batch element b that scan step s processes (times[s·B + b] = t ≥ 0),
 * bt = b·T + t being its row in the (B, T, ·) arrays: the row loop of every fused time step.
 */
export function forEachActive(times: Int32Array, s: number, B: number, T: number, row: (b: number, bt: number) => void): void {
  for (let b = 0; b < B; b++) {
    const t = times[s * B + b]!;
    if (t >= 0) row(b, b * T + t);
  }
}

/**
 * The input projection of every step at once, (N, GH) = x W_ihᵀ + b_ih + b_hh for x (N, I): one
 * GEMM and one bias pass (the broadcasting kernel: WebAssembly SIMD where available), with b_hh
 * folded into the first `foldH` columns only (see `foldedBias`). The array comes from the pool
 * (pool.ts); a caller that is done with it may give it back.
 */
export function inputProjection(p: CellParams, x: FloatArray, N: number, I: number, GH: number, foldH: number): FloatArray {
  // from the pool: the GEMM overwrites every value (beta = 0)
  const out = take(x, N * GH);
  kernels.gemm(false, true, N, GH, I, 1, x, 0, I, p.weightIh, 0, I, 0, out, 0, GH);
  const bias = foldedBias(p, foldH);
  if (bias) kernels.binaryBroadcast('add', out, [N, GH], out, [N, GH], bias, [GH]);
  return out;
}

/**
 * b_ih + b_hh (G·H), with b_hh added only to its first `foldH` entries: the gate blocks where
 * the two biases simply add (all of them but the GRU's n block with resetAfter, where r
 * multiplies b_hn). Null without biases. One bias pass over x W_ihᵀ then serves both.
 */
function foldedBias(p: CellParams, foldH: number): FloatArray | null {
  if (!p.biasIh || !p.biasHh) return null;
  const bias = p.biasIh.slice();
  for (let j = 0; j < foldH; j++) bias[j] += p.biasHh[j]!;
  return bias;
}

/** Sums the rows of a (N, C) into a new (C) array (a bias gradient: one pass over all steps). */
export function columnSums(a: FloatArray, N: number, C: number): FloatArray {
  const out = alloc(a, C);
  kernels.reduce('sum', out, a, [N, C], [true, false]);
  return out;
}

/** Validates a single-step call on x (B, I) and the parameters, naming the cell function. */
export function checkCell(fn: string, G: number, p: CellParams, x: unknown, dims: { B: number; I: number; H: number; P?: number }): number {
  if (dims === null || typeof dims !== 'object') throw new SeqgradError(fn, 'dims must be an object { B, I, H }');
  if (Number.isInteger(dims.B) && Number.isInteger(dims.I)) checkArray(fn, 'x', x, [dims.B, dims.I]);
  return checkSeq(fn, G, p, x, { ...dims, T: 1 }, {});
}
