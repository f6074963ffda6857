/**
 * The compiled plan of a traced step: runs the whole sequence on typed arrays, forward and
 * backward, with the step graph split in three regions (see trace.ts):
 *
 * - const: what depends only on captures, computed once per call (its gradient summed once);
 * - hoist: what depends on x_t and captures, computed for all T steps before the loop; a
 *   matmul of x-dependent rows by a capture is one GEMM over T·B rows, and so are its
 *   gradients (dX over T·B rows, dW summed over time in one GEMM);
 * - rec: what depends on the state, step by step into (T, ·) buffers allocated once per call.
 *   The gradient of a capture on the right of a recurrent matmul (W_hh) is one GEMM after the
 *   backward loop, over the stored rows of all steps.
 *
 * The backward is the graph's reverse mode: one rule per primitive below, each the derivative
 * of its forward, accumulated into gradient buffers. Buffers of a value at step k (recurrent,
 * state) are indexed by loop position k, those of x and hoisted values by time t.
 */
import { numel } from '../errors.js';
import { broadcastStrides, sigmoidF32, sigmoidScalar, tanhF32 } from '../kernels/elementwise.js';
import { gemm } from '../kernels/gemm.js';
import { arrayFor } from '../tensor.js';
import type { Region, StepGraph, TraceNode, TraceValue } from './trace.js';

type FA = Float32Array | Float64Array;
type StepFn = (k: number, t: number) => void;

/** Offsets by region: 0 for captures and const values, t·size for x and hoisted ones, k·size for state and recurrent ones. */
function modeOf(v: TraceValue): 0 | 1 | 2 {
  if (v.kind === 'state' || v.region === 'rec') return 2;
  if (v.kind === 'x' || v.region === 'hoist') return 1;
  return 0;
}

function strides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    s[d] = acc;
    acc *= shape[d]!;
  }
  return s;
}

/** map[i] = position(multi-index of element i of `shape`), walked in row-major order. */
function indexMap(shape: readonly number[], position: (idx: readonly number[]) => number): Int32Array {
  const n = numel(shape);
  const map = new Int32Array(n);
  const idx = new Array<number>(shape.length).fill(0);
  for (let i = 0; i < n; i++) {
    map[i] = position(idx);
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++idx[d]! < shape[d]!) break;
      idx[d] = 0;
    }
  }
  return map;
}

/** Where each element of an operand of `shape` is read from when broadcast to `outShape` (null when equal). */
function broadcastMap(shape: readonly number[], outShape: readonly number[]): Int32Array | null {
  if (shape.length === outShape.length && shape.every((d, i) => d === outShape[i])) return null;
  const str = broadcastStrides(shape, outShape);
  return indexMap(outShape, (idx) => idx.reduce((p, v, d) => p + v * str[d]!, 0));
}

/** Index maps of the shape primitives, computed once per plan. */
interface NodeMaps {
  /** out[i] = in[src[i]] (narrow, expand, permute). */
  src?: Int32Array;
  /** out[dst[i]] = in[i] or += in[i] (pad, sum), one per input for concat. */
  dst?: Int32Array[];
  /** Broadcast reads of the two operands of add, mul, div. */
  a?: Int32Array | null;
  b?: Int32Array | null;
}

function nodeMaps(node: TraceNode, values: readonly TraceValue[]): NodeMaps {
  const ins = node.inputs.map((i) => values[i]!.shape);
  const out = values[node.output]!.shape;
  const at = node.attrs;
  switch (node.op) {
    case 'add': case 'mul': case 'div':
      return { a: broadcastMap(ins[0]!, out), b: broadcastMap(ins[1]!, out) };
    case 'expand':
      return { src: broadcastMap(ins[0]!, out) ?? indexMap(out, (idx) => idx.reduce((p, v, d) => p + v * strides(out)[d]!, 0)) };
    case 'narrow': {
      const s = strides(ins[0]!);
      const axis = at.axis as number;
      const start = at.start as number;
      return { src: indexMap(out, (idx) => idx.reduce((p, v, d) => p + (d === axis ? v + start : v) * s[d]!, 0)) };
    }
    case 'permute': {
      const s = strides(ins[0]!);
      const perm = at.perm as number[];
      return { src: indexMap(out, (idx) => idx.reduce((p, v, d) => p + v * s[perm[d]!]!, 0)) };
    }
    case 'pad': {
      const s = strides(out);
      const axis = at.axis as number;
      const before = at.before as number;
      return { dst: [indexMap(ins[0]!, (idx) => idx.reduce((p, v, d) => p + (d === axis ? v + before : v) * s[d]!, 0))] };
    }
    case 'concat': {
      const s = strides(out);
      const axis = at.axis as number;
      let off = 0;
      return {
        dst: ins.map((shape) => {
          const o = off;
          off += shape[axis]!;
          return indexMap(shape, (idx) => idx.reduce((p, v, d) => p + (d === axis ? v + o : v) * s[d]!, 0));
        }),
      };
    }
    case 'sum': {
      const axes = at.axes as number[];
      const keep = ins[0]!.map((d, i) => (axes.includes(i) ? 1 : d));
      const ks = strides(keep);
      return { dst: [indexMap(ins[0]!, (idx) => idx.reduce((p, v, d) => p + (axes.includes(d) ? 0 : v * ks[d]!), 0))] };
    }
    default:
      return {};
  }
}

/** Buffers of one call: values, gradients, masks. */
interface Run {
  T: number;
  B: number;
  buf: FA[];
  grad: (FA | null)[];
}

/** The forward and backward of one node bound to a call's buffers. */
interface Bound {
  fwd: StepFn;
  bwd: StepFn;
  /** Hoisted matmul: the whole sequence in one GEMM (replaces T calls of fwd / bwd). */
  fwdAll?: () => void;
  bwdAll?: () => void;
  /** Recurrent matmul by a capture: the capture's gradient over all steps in one GEMM, after the loop. */
  deferred?: () => void;
}

export interface PlanSummary {
  ops: number;
  constant: number;
  hoisted: number;
  recurrent: number;
  /** Matmuls run as one GEMM over all T·B rows. */
  hoistedGemms: number;
  /** Capture gradients of recurrent matmuls summed over time in one GEMM. */
  deferredGemms: number;
}

export interface PlanForward {
  /** (B, T, n) per collected entry, h first. */
  sequences: FA[];
  /** (B, n) per state entry. */
  finals: FA[];
  saved: Saved;
}

interface Saved {
  /** The forward's buffers (gradients are allocated by each backward, so a retained graph can run backward again). */
  run: Run;
  lengths: Int32Array | null;
  reverse: boolean;
  need: boolean[];
}

export class Plan {
  readonly maps: NodeMaps[];
  readonly modes: (0 | 1 | 2)[];
  readonly summary: PlanSummary;

  constructor(readonly graph: StepGraph) {
    this.maps = graph.nodes.map((n) => nodeMaps(n, graph.values));
    this.modes = graph.values.map(modeOf);
    const count = (r: Region) => graph.nodes.filter((n) => n.region === r).length;
    this.summary = {
      ops: graph.nodes.length,
      constant: count('const'),
      hoisted: count('hoist'),
      recurrent: count('rec'),
      hoistedGemms: graph.nodes.filter((n) => this.gemmAll(n)).length,
      deferredGemms: graph.nodes.filter((n) => this.gemmDeferred(n)).length,
    };
  }

  /** A hoisted matmul of x-dependent rows (B, K) by a capture: one GEMM over T·B rows. */
  private gemmAll(n: TraceNode): boolean {
    return n.op === 'matmul' && n.region === 'hoist' && !n.attrs.transA && this.modes[n.inputs[0]!] === 1 && this.modes[n.inputs[1]!] === 0;
  }
  /** A recurrent matmul of state-dependent rows by a capture: its capture gradient in one GEMM after the loop. */
  private gemmDeferred(n: TraceNode): boolean {
    return n.op === 'matmul' && n.region === 'rec' && !n.attrs.transA && this.modes[n.inputs[0]!] === 2 && this.modes[n.inputs[1]!] === 0;
  }

  /**
   * Which values carry a gradient, given which of x, the initial state entries and the
   * captures need one: forward propagation through the nodes, and around the loop through
   * the state until nothing changes.
   */
  private needs(xNeeds: boolean, initNeeds: readonly boolean[], captureNeeds: readonly boolean[]): boolean[] {
    const g = this.graph;
    const need = g.values.map(() => false);
    need[g.x] = xNeeds;
    g.captures.forEach((c, i) => (need[c] = captureNeeds[i]!));
    g.stateIn.forEach((s, e) => (need[s] = initNeeds[e]!));
    for (;;) {
      for (const n of g.nodes) need[n.output] = n.inputs.some((i) => need[i]);
      let changed = false;
      g.stateIn.forEach((s, e) => {
        if (!need[s] && need[g.stateOut[e]!]) need[s] = changed = true;
      });
      if (!changed) return need;
    }
  }

  /**
   * Runs the sequence: x (B, T, I), init (B, n_e) per state entry, capture data in the order
   * of graph.captures. `collect` lists the state entries whose every step is returned (h first).
   */
  forward(
    x: FA, T: number, init: readonly FA[], captures: readonly FA[], opts: {
      reverse: boolean; lengths: Int32Array | null; collect: readonly number[];
      xNeeds: boolean; initNeeds: readonly boolean[]; captureNeeds: readonly boolean[];
    },
  ): PlanForward {
    const g = this.graph;
    const dtype = g.dtype;
    const vx = g.values[g.x]!;
    const B = vx.shape[0]!;
    const I = vx.size / B;
    const need = this.needs(opts.xNeeds, opts.initNeeds, opts.captureNeeds);
    const buf: FA[] = new Array(g.values.length);
    // x as (T, B, I), so that the rows of all steps are contiguous for the hoisted GEMMs.
    const xT = arrayFor(dtype, T * B * I) as FA;
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < T; t++) {
        const s = (b * T + t) * I;
        const d = (t * B + b) * I;
        for (let i = 0; i < I; i++) xT[d + i] = x[s + i]!;
      }
    }
    const state: FA[] = [];
    for (const v of g.values) {
      const id = v.id;
      const mode = this.modes[id]!;
      if (v.kind === 'capture') buf[id] = captures[g.captures.indexOf(id)]!;
      else if (v.kind === 'x') buf[id] = xT;
      else if (v.kind === 'state') {
        const e = g.stateIn.indexOf(id);
        const s = arrayFor(dtype, (T + 1) * v.size) as FA;
        s.set(init[e]!);
        state[e] = s;
        buf[id] = s;
      } else buf[id] = arrayFor(dtype, mode === 0 ? v.size : T * v.size) as FA;
    }
    const run: Run = { T, B, buf, grad: new Array(g.values.length).fill(null) };
    const bound = g.nodes.map((n, i) => this.bind(n, this.maps[i]!, run));

    const order = (r: Region) => g.nodes.map((n, i) => (n.region === r ? i : -1)).filter((i) => i >= 0);
    for (const i of order('const')) bound[i]!.fwd(0, 0);
    for (const i of order('hoist')) {
      const b = bound[i]!;
      if (b.fwdAll) b.fwdAll();
      else for (let t = 0; t < T; t++) b.fwd(t, t);
    }

    const rec = order('rec').map((i) => bound[i]!.fwd);
    const { reverse, lengths } = opts;
    const E = g.keys.length;
    const outIds = g.stateOut;
    const sequences = opts.collect.map((e) => arrayFor(dtype, B * T * (g.values[g.stateIn[e]!]!.size / B)) as FA);
    for (let k = 0; k < T; k++) {
      const t = reverse ? T - 1 - k : k;
      for (let j = 0; j < rec.length; j++) rec[j]!(k, t);
      for (let e = 0; e < E; e++) {
        const u = outIds[e]!;
        const n = g.values[u]!.size;
        const src = buf[u]!;
        const so = this.offset(u, k, t);
        const S = state[e]!;
        const cur = k * n;
        const nxt = (k + 1) * n;
        if (!lengths) {
          for (let i = 0; i < n; i++) S[nxt + i] = src[so + i]!;
        } else {
          const ne = n / B;
          for (let b = 0; b < B; b++) {
            const live = t < lengths[b]!;
            const r = b * ne;
            if (live) for (let j = 0; j < ne; j++) S[nxt + r + j] = src[so + r + j]!;
            else for (let j = 0; j < ne; j++) S[nxt + r + j] = S[cur + r + j]!;
          }
        }
      }
      opts.collect.forEach((e, c) => {
        const u = outIds[e]!;
        const ne = g.values[u]!.size / B;
        const src = buf[u]!;
        const so = this.offset(u, k, t);
        const out = sequences[c]!;
        for (let b = 0; b < B; b++) {
          const o = (b * T + t) * ne;
          if (lengths && t >= lengths[b]!) continue; // stays 0
          for (let j = 0; j < ne; j++) out[o + j] = src[so + b * ne + j]!;
        }
      });
    }
    const finals = state.map((S, e) => S.slice(T * g.values[g.stateIn[e]!]!.size, (T + 1) * g.values[g.stateIn[e]!]!.size) as FA);
    return { sequences, finals, saved: { run, lengths, reverse, need } };
  }

  /**
   * The gradients, from those of the collected sequences (B, T, n) and of the final state
   * entries (B, n): dx (B, T, I) or null, d init per entry, d capture per capture (null where
   * not needed).
   */
  backward(saved: Saved, dSequences: readonly (FA | null)[], dFinals: readonly (FA | null)[], collect: readonly number[]): {
    dx: FA | null; dInit: (FA | null)[]; dCaptures: (FA | null)[];
  } {
    const g = this.graph;
    const { lengths, reverse, need } = saved;
    const { T, B, buf } = saved.run;
    const grad: (FA | null)[] = g.values.map((v, id) => {
      if (!need[id]) return null;
      const mode = this.modes[id]!;
      return arrayFor(g.dtype, (v.kind === 'state' ? T + 1 : mode === 0 ? 1 : T) * v.size) as FA;
    });
    const run: Run = { T, B, buf, grad };
    const bound = g.nodes.map((n, i) => this.bind(n, this.maps[i]!, run));
    const E = g.keys.length;
    g.stateIn.forEach((s, e) => {
      const dS = grad[s];
      const d = dFinals[e];
      if (!dS || !d) return;
      const n = g.values[s]!.size;
      for (let i = 0; i < n; i++) dS[T * n + i]! += d[i]!;
    });
    const order = (r: Region) => g.nodes.map((n, i) => (n.region === r ? i : -1)).filter((i) => i >= 0).reverse();
    const rec = order('rec').map((i) => bound[i]!.bwd);
    for (let k = T - 1; k >= 0; k--) {
      const t = reverse ? T - 1 - k : k;
      for (let e = 0; e < E; e++) {
        const s = g.stateIn[e]!;
        const dS = grad[s];
        if (!dS) continue;
        const u = g.stateOut[e]!;
        const gu = grad[u];
        const n = g.values[s]!.size;
        const uo = this.offset(u, k, t);
        const cur = k * n;
        const nxt = (k + 1) * n;
        if (!lengths) {
          if (gu) for (let i = 0; i < n; i++) gu[uo + i]! += dS[nxt + i]!;
        } else {
          const ne = n / B;
          for (let b = 0; b < B; b++) {
            const r = b * ne;
            if (t < lengths[b]!) {
              if (gu) for (let j = 0; j < ne; j++) gu[uo + r + j]! += dS[nxt + r + j]!;
            } else for (let j = 0; j < ne; j++) dS[cur + r + j]! += dS[nxt + r + j]!;
          }
        }
      }
      collect.forEach((e, c) => {
        const d = dSequences[c];
        const u = g.stateOut[e]!;
        const gu = grad[u];
        if (!d || !gu) return;
        const ne = g.values[u]!.size / B;
        const uo = this.offset(u, k, t);
        for (let b = 0; b < B; b++) {
          if (lengths && t >= lengths[b]!) continue;
          const o = (b * T + t) * ne;
          for (let j = 0; j < ne; j++) gu[uo + b * ne + j]! += d[o + j]!;
        }
      });
      for (let j = 0; j < rec.length; j++) rec[j]!(k, t);
    }
    for (const b of bound) b.deferred?.();
    for (const i of order('hoist')) {
      const b = bound[i]!;
      if (b.bwdAll) b.bwdAll();
      else for (let t = 0; t < T; t++) b.bwd(t, t);
    }
    for (const i of order('const')) bound[i]!.bwd(0, 0);

    let dx: FA | null = null;
    const dxT = grad[g.x];
    if (dxT) {
      const I = g.values[g.x]!.size / B;
      dx = arrayFor(g.dtype, B * T * I) as FA;
      for (let b = 0; b < B; b++) {
        for (let t = 0; t < T; t++) {
          const d = (b * T + t) * I;
          const s = (t * B + b) * I;
          for (let i = 0; i < I; i++) dx[d + i] = dxT[s + i]!;
        }
      }
    }
    const dInit = g.stateIn.map((s) => grad[s]?.slice(0, g.values[s]!.size) as FA ?? null);
    const dCaptures = g.captures.map((c) => grad[c] ?? null);
    return { dx, dInit, dCaptures };
  }

  private offset(id: number, k: number, t: number): number {
    const m = this.modes[id]!;
    return m === 0 ? 0 : m === 1 ? t * this.graph.values[id]!.size : k * this.graph.values[id]!.size;
  }

  /** Binds one node to a call's buffers: its forward and backward at step (k, t). */
  private bind(node: TraceNode, maps: NodeMaps, run: Run): Bound {
    const g = this.graph;
    const vals = g.values;
    const f32 = g.dtype === 'float32';
    const offFn = (id: number): ((k: number, t: number) => number) => {
      const m = this.modes[id]!;
      const size = vals[id]!.size;
      return m === 0 ? () => 0 : m === 1 ? (_k, t) => t * size : (k) => k * size;
    };
    const out = node.output;
    const O = run.buf[out]!;
    const G = run.grad[out];
    const oOff = offFn(out);
    const n = vals[out]!.size;
    const [ia, ib] = node.inputs as [number, number | undefined];
    const A = run.buf[ia]!;
    const GA = run.grad[ia] ?? null;
    const aOff = offFn(ia);
    const B = ib === undefined ? null : run.buf[ib]!;
    const GB = ib === undefined ? null : run.grad[ib] ?? null;
    const bOff = ib === undefined ? () => 0 : offFn(ib);
    const none: StepFn = () => {};

    // Unary ops: out[i] = f(a[i]).
    const unary = (fwd: (o: number, a: number) => void, bwd: (o: number, a: number) => void): Bound => ({
      fwd: (k, t) => fwd(oOff(k, t), aOff(k, t)),
      bwd: G && GA ? (k, t) => bwd(oOff(k, t), aOff(k, t)) : none,
    });

    switch (node.op) {
      case 'neg':
        return unary(
          (o, a) => { for (let i = 0; i < n; i++) O[o + i] = -A[a + i]!; },
          // d(−x) = −dy
          (o, a) => { for (let i = 0; i < n; i++) GA![a + i]! -= G![o + i]!; },
        );
      case 'cast':
      case 'reshape':
        return unary(
          (o, a) => { for (let i = 0; i < n; i++) O[o + i] = A[a + i]!; },
          // d copy(x) = dy
          (o, a) => { for (let i = 0; i < n; i++) GA![a + i]! += G![o + i]!; },
        );
      case 'exp':
        return unary(
          (o, a) => { for (let i = 0; i < n; i++) O[o + i] = Math.exp(A[a + i]!); },
          // d exp(x) = y dy
          (o, a) => { for (let i = 0; i < n; i++) GA![a + i]! += G![o + i]! * O[o + i]!; },
        );
      case 'log':
        return unary(
          (o, a) => { for (let i = 0; i < n; i++) O[o + i] = Math.log(A[a + i]!); },
          // d ln(x) = dy / x
          (o, a) => { for (let i = 0; i < n; i++) GA![a + i]! += G![o + i]! / A[a + i]!; },
        );
      case 'sqrt':
        return unary(
          (o, a) => { for (let i = 0; i < n; i++) O[o + i] = Math.sqrt(A[a + i]!); },
          // d √x = dy / (2 √x)
          (o, a) => { for (let i = 0; i < n; i++) GA![a + i]! += G![o + i]! / (O[o + i]! * 2); },
        );
      case 'abs':
        return unary(
          (o, a) => { for (let i = 0; i < n; i++) O[o + i] = Math.abs(A[a + i]!); },
          // d |x| = sign(x) dy
          (o, a) => {
            for (let i = 0; i < n; i++) { const v = A[a + i]!; GA![a + i]! += G![o + i]! * (v > 0 ? 1 : v < 0 ? -1 : 0); }
          },
        );
      case 'tanh':
        return unary(
          f32
            ? (o, a) => { for (let i = 0; i < n; i++) O[o + i] = tanhF32(A[a + i]!); }
            : (o, a) => { for (let i = 0; i < n; i++) O[o + i] = Math.tanh(A[a + i]!); },
          // d tanh(x) = (1 − y²) dy
          (o, a) => { for (let i = 0; i < n; i++) { const y = O[o + i]!; GA![a + i]! += G![o + i]! * (1 - y * y); } },
        );
      case 'sigmoid':
        return unary(
          f32
            ? (o, a) => { for (let i = 0; i < n; i++) O[o + i] = sigmoidF32(A[a + i]!); }
            : (o, a) => { for (let i = 0; i < n; i++) O[o + i] = sigmoidScalar(A[a + i]!); },
          // d σ(x) = y (1 − y) dy
          (o, a) => { for (let i = 0; i < n; i++) { const y = O[o + i]!; GA![a + i]! += G![o + i]! * (y * (1 - y)); } },
        );
      case 'relu':
        return unary(
          (o, a) => { for (let i = 0; i < n; i++) { const v = A[a + i]!; O[o + i] = v > 0 ? v : 0; } },
          // d relu(x) = [x > 0] dy
          (o, a) => { for (let i = 0; i < n; i++) GA![a + i]! += G![o + i]! * (A[a + i]! > 0 ? 1 : 0); },
        );
      case 'clamp': {
        const lo = node.attrs.lo as number;
        const hi = node.attrs.hi as number;
        return unary(
          (o, a) => {
            for (let i = 0; i < n; i++) { const v = A[a + i]!; O[o + i] = v < lo ? (lo > hi ? hi : lo) : v > hi ? hi : v; }
          },
          // d clamp(x) = [lo ≤ x ≤ hi] dy
          (o, a) => {
            for (let i = 0; i < n; i++) { const v = A[a + i]!; GA![a + i]! += G![o + i]! * (v >= lo && v <= hi ? 1 : 0); }
          },
        );
      }
      case 'add': case 'mul': case 'div':
        return this.binary(node.op, maps, n, O, G ?? null, oOff, A, GA, aOff, B!, GB, bOff);
      case 'narrow': case 'expand': case 'permute': {
        const src = maps.src!;
        return unary(
          (o, a) => { for (let i = 0; i < n; i++) O[o + i] = A[a + src[i]!]!; },
          // the gradient goes back to where each element was read from
          (o, a) => { for (let i = 0; i < n; i++) GA![a + src[i]!]! += G![o + i]!; },
        );
      }
      case 'pad': {
        const dst = maps.dst![0]!;
        const m = dst.length;
        return unary(
          (o, a) => { O.fill(0, o, o + n); for (let i = 0; i < m; i++) O[o + dst[i]!] = A[a + i]!; },
          // d pad(x) = the window of dy where x was placed
          (o, a) => { for (let i = 0; i < m; i++) GA![a + i]! += G![o + dst[i]!]!; },
        );
      }
      case 'sum': {
        const dst = maps.dst![0]!;
        const m = dst.length;
        return unary(
          (o, a) => { O.fill(0, o, o + n); for (let i = 0; i < m; i++) O[o + dst[i]!]! += A[a + i]!; },
          // d Σx = dy broadcast back
          (o, a) => { for (let i = 0; i < m; i++) GA![a + i]! += G![o + dst[i]!]!; },
        );
      }
      case 'concat': {
        const parts = node.inputs.map((id, j) => ({
          X: run.buf[id]!, GX: run.grad[id] ?? null, off: offFn(id), dst: maps.dst![j]!,
        }));
        return {
          fwd: (k, t) => {
            const o = oOff(k, t);
            for (const p of parts) {
              const a = p.off(k, t);
              const { X, dst } = p;
              for (let i = 0; i < dst.length; i++) O[o + dst[i]!] = X[a + i]!;
            }
          },
          // d concat = the matching slices of dy
          bwd: G
            ? (k, t) => {
                const o = oOff(k, t);
                for (const p of parts) {
                  if (!p.GX) continue;
                  const a = p.off(k, t);
                  const { GX, dst } = p;
                  for (let i = 0; i < dst.length; i++) GX[a + i]! += G[o + dst[i]!]!;
                }
              }
            : none,
        };
      }
      case 'matmul':
        return this.matmul(node, run, O, G ?? null, oOff, A, GA, aOff, B!, GB, bOff);
      default:
        throw new Error(`scan plan: no rule for '${node.op}'`);
    }
  }

  private binary(
    op: 'add' | 'mul' | 'div', maps: NodeMaps, n: number,
    O: FA, G: FA | null, oOff: (k: number, t: number) => number,
    A: FA, GA: FA | null, aOff: (k: number, t: number) => number,
    B: FA, GB: FA | null, bOff: (k: number, t: number) => number,
  ): Bound {
    const ma = maps.a ?? null;
    const mb = maps.b ?? null;
    let fwd: StepFn;
    if (op === 'add') {
      fwd = (k, t) => {
        const o = oOff(k, t), a = aOff(k, t), b = bOff(k, t);
        if (!ma && !mb) for (let i = 0; i < n; i++) O[o + i] = A[a + i]! + B[b + i]!;
        else for (let i = 0; i < n; i++) O[o + i] = A[a + (ma ? ma[i]! : i)]! + B[b + (mb ? mb[i]! : i)]!;
      };
    } else if (op === 'mul') {
      fwd = (k, t) => {
        const o = oOff(k, t), a = aOff(k, t), b = bOff(k, t);
        if (!ma && !mb) for (let i = 0; i < n; i++) O[o + i] = A[a + i]! * B[b + i]!;
        else for (let i = 0; i < n; i++) O[o + i] = A[a + (ma ? ma[i]! : i)]! * B[b + (mb ? mb[i]! : i)]!;
      };
    } else {
      fwd = (k, t) => {
        const o = oOff(k, t), a = aOff(k, t), b = bOff(k, t);
        for (let i = 0; i < n; i++) O[o + i] = A[a + (ma ? ma[i]! : i)]! / B[b + (mb ? mb[i]! : i)]!;
      };
    }
    if (!G || (!GA && !GB)) return { fwd, bwd: () => {} };
    let bwd: StepFn;
    if (op === 'add') {
      // d(a + b) = da + db, each summed back over its broadcast axes
      bwd = (k, t) => {
        const o = oOff(k, t), a = aOff(k, t), b = bOff(k, t);
        if (GA) for (let i = 0; i < n; i++) GA[a + (ma ? ma[i]! : i)]! += G[o + i]!;
        if (GB) for (let i = 0; i < n; i++) GB[b + (mb ? mb[i]! : i)]! += G[o + i]!;
      };
    } else if (op === 'mul') {
      // d(a · b) = b da + a db
      bwd = (k, t) => {
        const o = oOff(k, t), a = aOff(k, t), b = bOff(k, t);
        for (let i = 0; i < n; i++) {
          const pa = a + (ma ? ma[i]! : i);
          const pb = b + (mb ? mb[i]! : i);
          const g = G[o + i]!;
          if (GA) GA[pa]! += g * B[pb]!;
          if (GB) GB[pb]! += g * A[pa]!;
        }
      };
    } else {
      // d(a / b) = da / b − (dy / b)(a / b) db
      bwd = (k, t) => {
        const o = oOff(k, t), a = aOff(k, t), b = bOff(k, t);
        for (let i = 0; i < n; i++) {
          const pa = a + (ma ? ma[i]! : i);
          const pb = b + (mb ? mb[i]! : i);
          const gb = G[o + i]! / B[pb]!;
          if (GA) GA[pa]! += gb;
          if (GB) GB[pb]! += -(gb * (A[pa]! / B[pb]!));
        }
      };
    }
    return { fwd, bwd };
  }

  private matmul(
    node: TraceNode, run: Run,
    O: FA, G: FA | null, oOff: (k: number, t: number) => number,
    A: FA, GA: FA | null, aOff: (k: number, t: number) => number,
    Bm: FA, GB: FA | null, bOff: (k: number, t: number) => number,
  ): Bound {
    const vals = this.graph.values;
    const tA = Boolean(node.attrs.transA);
    const tB = Boolean(node.attrs.transB);
    const [ar, ac] = vals[node.inputs[0]!]!.shape as [number, number];
    const [br, bc] = vals[node.inputs[1]!]!.shape as [number, number];
    const M = tA ? ac : ar;
    const K = tA ? ar : ac;
    const N = tB ? br : bc;
    const lda = ac;
    const ldb = bc;
    // C = X Y with X = op(A) (M, K), Y = op(B) (K, N): dX = dC Yᵀ, dY = Xᵀ dC; a transposed operand takes the transpose.
    const gradA = (rows: number, g: number, a: number, b: number) => {
      if (tA) gemm(tB, true, K, rows, N, 1, Bm, b, ldb, G!, g, N, 1, GA!, a, lda);
      else gemm(false, !tB, rows, K, N, 1, G!, g, N, Bm, b, ldb, 1, GA!, a, K);
    };
    const gradB = (rows: number, g: number, a: number, b: number) => {
      if (tB) gemm(true, tA, N, K, rows, 1, G!, g, N, A, a, lda, 1, GB!, b, K);
      else gemm(!tA, false, K, N, rows, 1, A, a, lda, G!, g, N, 1, GB!, b, N);
    };
    const fwd: StepFn = (k, t) => gemm(tA, tB, M, N, K, 1, A, aOff(k, t), lda, Bm, bOff(k, t), ldb, 0, O, oOff(k, t), N);
    const T = run.T;
    if (this.gemmAll(node)) {
      return {
        fwd,
        bwd: () => {},
        fwdAll: () => gemm(false, tB, T * M, N, K, 1, A, 0, lda, Bm, 0, ldb, 0, O, 0, N),
        bwdAll: () => {
          if (!G) return;
          if (GA) gradA(T * M, 0, 0, 0);
          if (GB) gradB(T * M, 0, 0, 0);
        },
      };
    }
    const deferred = this.gemmDeferred(node);
    const bwd: StepFn = (k, t) => {
      if (!G) return;
      const g = oOff(k, t), a = aOff(k, t), b = bOff(k, t);
      if (GA) gradA(M, g, a, b);
      if (GB && !deferred) gradB(M, g, a, b);
    };
    return deferred && G && GB ? { fwd, bwd, deferred: () => gradB(T * M, 0, 0, 0) } : { fwd, bwd };
  }
}
