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
 * of its forward, accumulated into gradient buffers (a recurrent value's gradient in a
 * one-step buffer, reused at every step). Buffers of a value at step k (recurrent, state) are
 * indexed by loop position k, those of x and hoisted values by time t. The kernels are plain
 * module-level functions over per-node records, with no allocation inside the time loop; the
 * value buffers of a finished call serve the next one (see `recycle`).
 */
import { broadcastStrides, numel, stridedOffsets, stridesOf as strides } from '../shapes.js';
import { sigmoidF32, sigmoidScalar, tanhF32 } from '../kernels/elementwise.js';
import { gemm } from '../kernels/gemm.js';
import { arrayFor } from '../tensor.js';
import {
  type MulAddFusion, type SliceActivation, type SliceActivationFusion, findMulAdds, findSliceActivations, mulAddBackward, mulAddForward,
  sliceActivationBackward, sliceActivationForward,
} from './fuse.js';
import type { Region, StepGraph, TraceNode, TraceValue } from './trace.js';

type FA = Float32Array | Float64Array;

/** Offsets by region: 0 for captures and const values, t·size for x and hoisted ones, k·size for state and recurrent ones. */
function modeOf(v: TraceValue): 0 | 1 | 2 {
  if (v.kind === 'state' || v.region === 'rec') return 2;
  if (v.kind === 'x' || v.region === 'hoist') return 1;
  return 0;
}

/** Where each element of an operand of `shape` is read from when broadcast to `outShape` (null when equal). */
function broadcastMap(shape: readonly number[], outShape: readonly number[]): Int32Array | null {
  if (shape.length === outShape.length && shape.every((d, i) => d === outShape[i])) return null;
  return stridedOffsets(outShape, broadcastStrides(shape, outShape));
}

/** Index maps of the shape primitives, computed once per plan. */
interface NodeMaps {
  /** out[i] = in[src[i]] (expand, permute). */
  src?: Int32Array;
  /** out[dst[i]] = in[i] or += in[i] (pad, sum). */
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
      return { src: broadcastMap(ins[0]!, out) ?? stridedOffsets(out, strides(out)) };
    case 'permute': {
      const s = strides(ins[0]!);
      const perm = at.perm as number[];
      return { src: stridedOffsets(out, perm.map((p) => s[p]!)) };
    }
    case 'pad': {
      const s = strides(out);
      const axis = at.axis as number;
      const before = at.before as number;
      return { dst: [stridedOffsets(ins[0]!, s, s.length, before * s[axis]!)] };
    }
    case 'sum': {
      const axes = at.axes as number[];
      const keep = ins[0]!.map((d, i) => (axes.includes(i) ? 1 : d));
      const ks = strides(keep);
      return { dst: [stridedOffsets(ins[0]!, ks.map((k, d) => (axes.includes(d) ? 0 : k)))] };
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

/**
 * One node as data for the module-level kernels below: buffer ids, offsets per step
 * (offset = k·xK + t·xT), index maps and matmul dimensions. The kernels are plain functions,
 * so each is optimised once and serves every node of every plan.
 */
interface NodeStep {
  op: TraceNode['op'] | 'layernorm' | 'sliceAct' | 'mulAdd';
  region: Region;
  /** op 'layernorm': the fused normalisation (see LayerNormFusion). */
  ln: LayerNormFusion | null;
  /** op 'sliceAct': the activation of a slice read in place (blocks[0] says where; see fuse.ts). */
  act: SliceActivation | null;
  out: number;
  ins: number[];
  /** Output size per step. */
  n: number;
  oK: number; oT: number;
  /** Offset coefficient of the gradient of the output and of each input (0 for a gradient kept one step at a time). */
  goK: number; ginK: number[];
  /** Offset coefficients of each input. */
  inK: number[]; inT: number[];
  f32: boolean;
  ma: Int32Array | null;
  mb: Int32Array | null;
  /** > 0 when operand a (b) is one value per run of that many consecutive outputs (a (B, 1) against (B, n)). */
  ca: number;
  cb: number;
  /** > 0 when operand b is one row of that many values repeated over the output (a bias against (B, n)). */
  rb: number;
  /** sum over trailing axes: each output is the sum of this many consecutive inputs (0 otherwise). */
  rowSum: number;
  /** expand, permute: out[i] = in[src[i]]; pad, sum: out[dst[0][i]] (+)= in[i]. */
  src: Int32Array | null;
  dst: Int32Array[];
  lo: number;
  hi: number;
  /**
   * narrow, and each input of concat, as contiguous blocks: `outer` blocks of `len` elements,
   * block r at r·wideStride + wideStart in the wider tensor and at r·len in the narrower one.
   */
  blocks: { outer: number; len: number; wideStride: number; wideStart: number }[];
  mm: { tA: boolean; tB: boolean; M: number; N: number; K: number; lda: number; ldb: number; all: boolean; deferred: boolean } | null;
}

/**
 * A layer norm over the last axis found in the graph, run as one kernel:
 * y = (x − Σx/d1) / √(Σ(x − Σx/d1)²/d2 + eps) · gain + shift, row by row over rows of N,
 * where d1, d2 and eps are scalar captures (LayerNorm's N, N − correction and ε) and gain and
 * shift (−1 when absent) are values of N held once per call. The nodes it replaces (the sums,
 * the centring, the square, the square root, the quotient, the affine map) store nothing.
 */
interface LayerNormFusion {
  x: number;
  d1: number;
  /** The divisor of the mean the variance centres with (the same value as d1, checked per call). */
  d1b: number;
  d2: number;
  eps: number;
  gain: number;
  shift: number;
  N: number;
  /** The graph nodes it replaces; the last one's output is its output. */
  nodes: number[];
}

/** The steps a call runs, and the values none of them writes (fused away). */
interface Program {
  steps: NodeStep[];
  dead: boolean[];
  /**
   * Recurrent values no backward rule reads (the pre-activations of the gates, the slices of
   * a chunk): one step of storage, reused at every step, instead of T.
   */
  once: boolean[];
  /** The scalar captures the fused layer norms read without differentiating them. */
  constants: number[];
  /** Pairs of scalar captures that must hold the same value for the fusion to hold. */
  equal: [number, number][];
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
  /** Layer norms (with their gain and shift) run as one kernel each. */
  fusedLayerNorms: number;
  /** Elementwise chains run as one loop each (a sigmoid or tanh of a slice read in place; a · b + c · d). */
  fusedChains: number;
  /** Milliseconds (wall clock) spent tracing the step and building this plan, once per signature. */
  traceMs: number;
  buildMs: number;
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
  program: Program;
}

export class Plan {
  readonly maps: NodeMaps[];
  readonly modes: (0 | 1 | 2)[];
  readonly summary: PlanSummary;
  /** The buffers of the call being run, read by the bound nodes at every step. */
  private readonly run: Run = { T: 0, B: 0, buf: [], grad: [] };
  /** Every node as its own step. */
  private readonly plain: Program;
  /** Layer norms fused (the same as plain when the graph has none). */
  private readonly fused: Program;
  /** The buffers of a call whose backward can no longer run, for the next call of the same length. */
  private spare: { T: number; buf: FA[] } | null = null;
  /** The gradient buffers of the last backward, for the next one of the same length. */
  private gradSpare: { T: number; grad: (FA | null)[] } | null = null;
  /** Recurrent values whose gradient needs one step of storage (see gradK). */
  private readonly stepLocal: boolean[];

  constructor(readonly graph: StepGraph, traceMs = 0) {
    const start = performance.now();
    this.maps = graph.nodes.map((n) => nodeMaps(n, graph.values));
    this.modes = graph.values.map(modeOf);
    const full = new Set(graph.nodes.filter((n) => this.gemmDeferred(n)).map((n) => n.output));
    this.stepLocal = graph.values.map((v) => v.kind === 'node' && v.region === 'rec' && !full.has(v.id));
    const steps = graph.nodes.map((n, i) => this.nodeStep(n, this.maps[i]!));
    const none = graph.values.map(() => false);
    this.plain = this.storeOnce({ steps, dead: none, once: none, constants: [], equal: [] });
    const lns = findLayerNorms(graph, this.modes);
    // Nodes of a fused layer norm stay out of the elementwise chains.
    const inLn = new Set(lns.flatMap((ln) => ln.nodes));
    const chains = findSliceActivations(graph).filter((c) => !inLn.has(c.narrow) && !inLn.has(c.node));
    const mulAdds = findMulAdds(graph).filter((c) => !inLn.has(c.node) && !c.muls.some((m) => inLn.has(m)));
    this.fused = lns.length + chains.length + mulAdds.length === 0 ? this.plain : this.storeOnce(this.fuse(steps, lns, chains, mulAdds));
    const count = (r: Region) => graph.nodes.filter((n) => n.region === r).length;
    this.summary = {
      ops: graph.nodes.length,
      constant: count('const'),
      hoisted: count('hoist'),
      recurrent: count('rec'),
      hoistedGemms: graph.nodes.filter((n) => this.gemmAll(n)).length,
      deferredGemms: graph.nodes.filter((n) => this.gemmDeferred(n)).length,
      fusedLayerNorms: lns.length,
      fusedChains: chains.length + mulAdds.length,
      traceMs,
      buildMs: performance.now() - start,
    };
  }

  /** The program with each layer norm's nodes replaced by one step where its last node was. */
  private fuse(steps: NodeStep[], lns: LayerNormFusion[], chains: SliceActivationFusion[], mulAdds: MulAddFusion[]): Program {
    const g = this.graph;
    const dead = g.values.map(() => false);
    const at = new Map<number, LayerNormFusion>();
    const gone = new Set<number>();
    for (const ln of lns) {
      const last = ln.nodes[ln.nodes.length - 1]!;
      at.set(last, ln);
      for (const i of ln.nodes) if (i !== last) {
        gone.add(i);
        dead[g.nodes[i]!.output] = true;
      }
    }
    const slices = new Map<number, SliceActivationFusion>();
    for (const c of chains) {
      slices.set(c.node, c);
      gone.add(c.narrow);
      dead[g.nodes[c.narrow]!.output] = true;
    }
    const sums = new Map<number, MulAddFusion>();
    for (const c of mulAdds) {
      sums.set(c.node, c);
      for (const m of c.muls) {
        gone.add(m);
        dead[g.nodes[m]!.output] = true;
      }
    }
    const out: NodeStep[] = [];
    steps.forEach((st, i) => {
      if (gone.has(i)) return;
      const ma = sums.get(i);
      if (ma) {
        const [p, q] = [steps[ma.muls[0]]!, steps[ma.muls[1]]!];
        out.push({ ...st, op: 'mulAdd', ins: [...p.ins, ...q.ins], inK: [...p.inK, ...q.inK], inT: [...p.inT, ...q.inT], ginK: [...p.ginK, ...q.ginK] });
        return;
      }
      const sa = slices.get(i);
      if (sa) {
        const nst = steps[sa.narrow]!;
        out.push({ ...st, op: 'sliceAct', act: sa.act, ins: nst.ins, inK: nst.inK, inT: nst.inT, ginK: nst.ginK, blocks: nst.blocks });
        return;
      }
      const ln = at.get(i);
      if (!ln) {
        out.push(st);
        return;
      }
      const x = ln.x;
      out.push({
        ...st, op: 'layernorm', ln, ins: [x], inK: [this.coefK(x)], inT: [this.coefT(x)], ginK: [this.gradK(x)],
        ma: null, mb: null, ca: 0, cb: 0, rb: 0, rowSum: 0, src: null, dst: [], blocks: [], mm: null, act: null,
      });
    });
    return {
      steps: out, dead, once: dead, constants: lns.flatMap((ln) => [ln.d1, ln.d1b, ln.d2, ln.eps]), equal: lns.map((ln) => [ln.d1, ln.d1b]),
    };
  }

  /**
   * The program with every recurrent value that no backward rule of its steps reads (and that
   * is no state entry) kept one step at a time: its steps read and write it at offset 0.
   */
  private storeOnce(p: Program): Program {
    const g = this.graph;
    const read = g.values.map(() => false);
    for (const st of p.steps) {
      switch (st.op) {
        case 'mul': case 'div': case 'matmul': case 'mulAdd': for (const i of st.ins) read[i] = true; break;
        case 'layernorm': case 'log': case 'abs': case 'relu': case 'clamp': read[st.ins[0]!] = true; break;
        case 'exp': case 'sqrt': case 'tanh': case 'sigmoid': case 'sliceAct': read[st.out] = true; break;
        default: break;
      }
    }
    for (const o of g.stateOut) read[o] = true;
    const once = g.values.map((v, id) => v.kind === 'node' && this.modes[id] === 2 && !read[id] && !p.dead[id]);
    const steps = p.steps.map((st) => ({ ...st, oK: once[st.out] ? 0 : st.oK, inK: st.inK.map((c, j) => (once[st.ins[j]!] ? 0 : c)) }));
    return { ...p, steps, once };
  }

  private coefK(id: number): number {
    return this.modes[id] === 2 ? this.graph.values[id]!.size : 0;
  }
  private coefT(id: number): number {
    return this.modes[id] === 1 ? this.graph.values[id]!.size : 0;
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
    // The fused layer norm does not differentiate its scalars (LayerNorm's N and ε) and takes
    // the two means it computes for one; were a scalar to need a gradient, or the two divisors
    // to differ, every node runs on its own.
    const scalarOf = (id: number) => captures[g.captures.indexOf(id)]![0];
    const program = this.fused.constants.some((c) => need[c]) || this.fused.equal.some(([p, q]) => scalarOf(p) !== scalarOf(q))
      ? this.plain : this.fused;
    // Every forward writes all of its buffers, so those of a finished call serve again as they are.
    const spare = this.spare?.T === T ? this.spare.buf : null;
    this.spare = null;
    const alloc = (id: number, n: number): FA => {
      const old = spare?.[id];
      return old && old.length === n ? old : (arrayFor(dtype, n) as FA);
    };
    const buf: FA[] = new Array(g.values.length);
    // x as (T, B, I), so that the rows of all steps are contiguous for the hoisted GEMMs.
    const xT = alloc(g.x, T * B * I);
    swapLeadingAxes(xT, x, B, T, I);
    const state: FA[] = [];
    for (const v of g.values) {
      const id = v.id;
      const mode = this.modes[id]!;
      if (v.kind === 'capture') buf[id] = captures[g.captures.indexOf(id)]!;
      else if (v.kind === 'x') buf[id] = xT;
      else if (v.kind === 'state') {
        const e = g.stateIn.indexOf(id);
        const s = alloc(id, (T + 1) * v.size);
        s.set(init[e]!);
        state[e] = s;
        buf[id] = s;
      } else if (program.dead[id]) buf[id] = EMPTY[dtype];
      else buf[id] = alloc(id, mode === 0 || program.once[id] ? v.size : T * v.size);
    }
    const run = this.use(T, B, buf, new Array(g.values.length).fill(null));
    const order = (r: Region) => program.steps.filter((st) => st.region === r);
    for (const st of order('const')) forwardNode(st, run, 0, 0);
    for (const st of order('hoist')) {
      if (st.mm?.all) matmulAllForward(st, run);
      else for (let t = 0; t < T; t++) forwardNode(st, run, t, t);
    }

    const rec = order('rec');
    const { reverse, lengths } = opts;
    const E = g.keys.length;
    const outIds = g.stateOut;
    const sequences = opts.collect.map((e) => arrayFor(dtype, B * T * (g.values[g.stateIn[e]!]!.size / B)) as FA);
    for (let k = 0; k < T; k++) {
      const t = reverse ? T - 1 - k : k;
      for (let j = 0; j < rec.length; j++) forwardNode(rec[j]!, run, k, t);
      for (let e = 0; e < E; e++) {
        const u = outIds[e]!;
        const n = g.values[u]!.size;
        nextState(state[e]!, k * n, buf[u]!, this.offset(u, k, t), n, B, lengths, t);
      }
      for (let c = 0; c < opts.collect.length; c++) {
        const u = outIds[opts.collect[c]!]!;
        writeStep(sequences[c]!, buf[u]!, this.offset(u, k, t), B, T, t, g.values[u]!.size / B, lengths);
      }
    }
    const finals = state.map((S, e) => S.slice(T * g.values[g.stateIn[e]!]!.size, (T + 1) * g.values[g.stateIn[e]!]!.size) as FA);
    return { sequences, finals, saved: { run: { ...run }, lengths, reverse, need, program } };
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
    const { lengths, reverse, need, program } = saved;
    const { T, B, buf } = saved.run;
    // Gradient buffers of the previous backward of the same length, zeroed, or new ones.
    const spare = this.gradSpare?.T === T ? this.gradSpare.grad : null;
    this.gradSpare = null;
    const grad: (FA | null)[] = g.values.map((v, id) => {
      if (!need[id] || program.dead[id]) return null;
      const old = spare?.[id];
      if (old) return old.fill(0);
      const mode = this.modes[id]!;
      return arrayFor(g.dtype, (v.kind === 'state' ? T + 1 : mode === 0 || this.stepLocal[id] ? 1 : T) * v.size) as FA;
    });
    const local = g.values.filter((v) => this.stepLocal[v.id] && grad[v.id]).map((v) => grad[v.id]!);
    const run = this.use(T, B, buf, grad);
    const steps = program.steps;
    const E = g.keys.length;
    g.stateIn.forEach((s, e) => {
      const dS = grad[s];
      const d = dFinals[e];
      if (!dS || !d) return;
      const n = g.values[s]!.size;
      for (let i = 0; i < n; i++) dS[T * n + i]! += d[i]!;
    });
    const order = (r: Region) => steps.filter((st) => st.region === r).reverse();
    const rec = order('rec');
    for (let k = T - 1; k >= 0; k--) {
      const t = reverse ? T - 1 - k : k;
      for (let j = 0; j < local.length; j++) local[j]!.fill(0);
      for (let e = 0; e < E; e++) {
        const s = g.stateIn[e]!;
        const dS = grad[s];
        if (!dS) continue;
        const u = g.stateOut[e]!;
        const gu = grad[u];
        const n = g.values[s]!.size;
        nextStateBackward(dS, k * n, gu ?? null, this.gradOffset(u, k, t), n, B, lengths, t);
      }
      for (let c = 0; c < collect.length; c++) {
        const d = dSequences[c];
        const u = g.stateOut[collect[c]!]!;
        const gu = grad[u];
        if (d && gu) readStep(gu, this.gradOffset(u, k, t), d, B, T, t, g.values[u]!.size / B, lengths);
      }
      for (let j = 0; j < rec.length; j++) backwardNode(rec[j]!, run, k, t);
    }
    for (const st of steps) if (st.mm?.deferred) matmulDeferredBackward(st, run);
    for (const st of order('hoist')) {
      if (st.mm?.all) matmulAllBackward(st, run);
      else for (let t = 0; t < T; t++) backwardNode(st, run, t, t);
    }
    for (const st of order('const')) backwardNode(st, run, 0, 0);

    let dx: FA | null = null;
    const dxT = grad[g.x];
    if (dxT) {
      const I = g.values[g.x]!.size / B;
      dx = arrayFor(g.dtype, B * T * I) as FA;
      swapLeadingAxes(dx, dxT, T, B, I);
    }
    const dInit = g.stateIn.map((s) => grad[s]?.slice(0, g.values[s]!.size) as FA ?? null);
    const dCaptures = g.captures.map((c) => grad[c] ?? null);
    // Every buffer but the captures' gradients (handed out as tensors) serves the next backward.
    this.gradSpare = { T, grad: grad.map((b, id) => (g.values[id]!.kind === 'capture' ? null : b)) };
    return { dx, dInit, dCaptures };
  }

  /**
   * Hands the buffers of a finished call (its backward ran and freed the graph, or it was not
   * recorded) to the next call, so a training loop does not allocate them at every step.
   */
  recycle(saved: Saved): void {
    const g = this.graph;
    const buf = saved.run.buf.map((b, id) => (g.values[id]!.kind === 'capture' ? undefined : b)) as FA[];
    this.spare = { T: saved.run.T, buf };
  }

  /** Points the kernels at one call's buffers. */
  private use(T: number, B: number, buf: FA[], grad: (FA | null)[]): Run {
    const run = this.run;
    run.T = T;
    run.B = B;
    run.buf = buf;
    run.grad = grad;
    return run;
  }

  private gradOffset(id: number, k: number, t: number): number {
    return this.stepLocal[id] ? 0 : this.offset(id, k, t);
  }

  private offset(id: number, k: number, t: number): number {
    const m = this.modes[id]!;
    return m === 0 ? 0 : m === 1 ? t * this.graph.values[id]!.size : k * this.graph.values[id]!.size;
  }

  /**
   * The per-step offset coefficient of a value's gradient. A recurrent value's gradient is
   * only needed during its own step of the backward loop, so it lives in a one-step buffer
   * (coefficient 0), except the output of a matmul whose capture gradient is one GEMM after the loop.
   */
  private gradK(id: number): number {
    return this.stepLocal[id] ? 0 : this.modes[id] === 2 ? this.graph.values[id]!.size : 0;
  }

  private nodeStep(node: TraceNode, maps: NodeMaps): NodeStep {
    const vals = this.graph.values;
    const coefK = (id: number) => (this.modes[id] === 2 ? vals[id]!.size : 0);
    const coefT = (id: number) => (this.modes[id] === 1 ? vals[id]!.size : 0);
    let mm: NodeStep['mm'] = null;
    if (node.op === 'matmul') {
      const tA = Boolean(node.attrs.transA);
      const tB = Boolean(node.attrs.transB);
      const [ar, ac] = vals[node.inputs[0]!]!.shape as [number, number];
      const [br, bc] = vals[node.inputs[1]!]!.shape as [number, number];
      mm = {
        tA, tB, M: tA ? ac : ar, K: tA ? ar : ac, N: tB ? br : bc, lda: ac, ldb: bc,
        all: this.gemmAll(node), deferred: this.gemmDeferred(node),
      };
    }
    return {
      op: node.op, region: node.region, ln: null, act: null, out: node.output, ins: node.inputs, n: vals[node.output]!.size,
      oK: coefK(node.output), oT: coefT(node.output),
      inK: node.inputs.map(coefK), inT: node.inputs.map(coefT),
      goK: this.gradK(node.output), ginK: node.inputs.map((i) => this.gradK(i)),
      f32: this.graph.dtype === 'float32',
      ma: maps.a ?? null, mb: maps.b ?? null, src: maps.src ?? null, dst: maps.dst ?? [],
      ca: maps.a ? runLength(vals[node.inputs[0]!]!.shape, vals[node.output]!.shape) : 0,
      cb: maps.b ? runLength(vals[node.inputs[1]!]!.shape, vals[node.output]!.shape) : 0,
      rb: maps.b ? rowLength(vals[node.inputs[1]!]!.shape, vals[node.output]!.shape) : 0,
      rowSum: node.op === 'sum' ? trailingReduction(vals[node.inputs[0]!]!.shape, node.attrs.axes as number[]) : 0,
      lo: (node.attrs.lo as number | undefined) ?? 0, hi: (node.attrs.hi as number | undefined) ?? 0,
      blocks: blockLayout(node, vals),
      mm,
    };
  }
}

/** The buffer of a value no step writes. */
const EMPTY = { float32: new Float32Array(0), float64: new Float64Array(0) } as const;

/**
 * The layer norms over the last axis in the graph, as LayerNorm (and `sub(x, mean(x))` /
 * `variance(x, correction)`) traces them once repeated nodes are merged:
 *   m = sum(x, last, keepdim) / d1;  c = x + neg(m);  v = sum(c · c, last, keepdim) / d2;
 *   y = c / sqrt(v + eps);  then optionally y · gain and + shift (either operand order),
 * with d1, d2, eps scalar captures that need no gradient, gain and shift values of N held
 * once per call. Every intermediate value must be used only inside the pattern.
 */
function findLayerNorms(graph: StepGraph, modes: readonly (0 | 1 | 2)[]): LayerNormFusion[] {
  const vals = graph.values;
  const producer = new Map<number, number>();
  graph.nodes.forEach((n, i) => producer.set(n.output, i));
  const uses = vals.map(() => 0);
  for (const n of graph.nodes) for (const i of n.inputs) uses[i]!++;
  for (const o of graph.stateOut) uses[o]! += 1;
  const node = (id: number, op: string): TraceNode | null => {
    const i = producer.get(id);
    const n = i === undefined ? undefined : graph.nodes[i];
    return n && n.op === op ? n : null;
  };
  const scalar = (id: number) => {
    const v = vals[id]!;
    return v.kind === 'capture' && v.size === 1 && !v.tensor!.requiresGrad;
  };
  const rowSum = (n: TraceNode | null, N: number): n is TraceNode => {
    if (!n) return false;
    const shape = vals[n.inputs[0]!]!.shape;
    const axes = n.attrs.axes as number[];
    return n.attrs.keepdim === true && axes.length === 1 && axes[0] === shape.length - 1 && shape[shape.length - 1] === N;
  };
  // A once-per-call vector of N to apply along the last axis of an (…, N) value.
  const rowVector = (id: number, N: number) => modes[id] === 0 && vals[id]!.size === N && vals[id]!.shape[vals[id]!.shape.length - 1] === N;
  const found: LayerNormFusion[] = [];
  graph.nodes.forEach((yNode, yi) => {
    if (yNode.op !== 'div') return;
    const [c, s] = yNode.inputs as [number, number];
    const cNode = node(c, 'add');
    const sNode = node(s, 'sqrt');
    if (!cNode || !sNode) return;
    const x = cNode.inputs[0]!;
    const xs = vals[x]!.shape;
    const N = xs[xs.length - 1]!;
    if (xs.length < 1 || !sameDims(vals[yNode.output]!.shape, xs) || !sameDims(vals[c]!.shape, xs)) return;
    // The centring, as x + neg(sum(x) / d): the mean's sum is one node (repeated nodes are
    // merged when tracing), its divisor may be a second scalar of the same value.
    const centring = (cid: number): { nodes: TraceNode[]; sum: number; d: number } | null => {
      const cn = node(cid, 'add');
      if (!cn || cn.inputs[0] !== x) return null;
      const nmNode = node(cn.inputs[1]!, 'neg');
      const mNode = nmNode && node(nmNode.inputs[0]!, 'div');
      const sxNode = mNode && node(mNode.inputs[0]!, 'sum');
      if (!mNode || !rowSum(sxNode, N) || sxNode.inputs[0] !== x || !scalar(mNode.inputs[1]!)) return null;
      return { nodes: [sxNode, mNode, nmNode, cn], sum: sxNode.output, d: mNode.inputs[1]! };
    };
    const num = centring(c);
    const veNode = node(sNode.inputs[0]!, 'add');
    const vNode = veNode && node(veNode.inputs[0]!, 'div');
    const qNode = vNode && node(vNode.inputs[0]!, 'sum');
    const pNode = qNode && node(qNode.inputs[0]!, 'mul');
    if (!num || !vNode || !rowSum(qNode, N) || !pNode || pNode.inputs[0] !== pNode.inputs[1]) return;
    const den = pNode.inputs[0] === c ? num : centring(pNode.inputs[0]!);
    if (!den || den.sum !== num.sum) return;
    if (!scalar(veNode.inputs[1]!) || !scalar(vNode.inputs[1]!)) return;
    const inner = [...new Set([...num.nodes, ...den.nodes, pNode, qNode, vNode, veNode, sNode])];
    // Every value the pattern makes, but its output, is read only inside it.
    const reads = new Map<number, number>();
    for (const n of [...inner, yNode]) for (const i of n.inputs) reads.set(i, (reads.get(i) ?? 0) + 1);
    if (inner.some((n) => uses[n.output] !== reads.get(n.output))) return;
    inner.sort((p, q) => producer.get(p.output)! - producer.get(q.output)!);
    const nodes = inner.map((n) => producer.get(n.output)!);
    nodes.push(yi);
    let out = yNode.output;
    let gain = -1;
    let shift = -1;
    // The affine map, when the normalised value feeds only it.
    const consumer = (id: number, op: string): [TraceNode, number] | null => {
      if (uses[id] !== 1) return null;
      const i = graph.nodes.findIndex((n) => n.op === op && n.inputs.includes(id));
      if (i < 0) return null;
      const n = graph.nodes[i]!;
      const other = n.inputs[0] === id ? n.inputs[1]! : n.inputs[0]!;
      if (n.inputs.length !== 2 || other === id || !rowVector(other, N) || !sameDims(vals[n.output]!.shape, xs)) return null;
      return [n, i];
    };
    const mulUse = consumer(out, 'mul');
    if (mulUse) {
      const [n, i] = mulUse;
      gain = n.inputs[0] === out ? n.inputs[1]! : n.inputs[0]!;
      nodes.push(i);
      out = n.output;
    }
    const addUse = consumer(out, 'add');
    if (addUse) {
      const [n, i] = addUse;
      shift = n.inputs[0] === out ? n.inputs[1]! : n.inputs[0]!;
      nodes.push(i);
    }
    found.push({ x, d1: num.d, d1b: den.d, d2: vNode.inputs[1]!, eps: veNode.inputs[1]!, gain, shift, N, nodes });
  });
  return found;
}

function sameDims(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** The contiguous blocks of a narrow (one entry) or of each input of a concat; empty for other ops. */
function blockLayout(node: TraceNode, vals: readonly TraceValue[]): NodeStep['blocks'] {
  const axis = node.attrs.axis as number;
  const wide = node.op === 'narrow' ? vals[node.inputs[0]!]!.shape : vals[node.output]!.shape;
  if (node.op !== 'narrow' && node.op !== 'concat') return [];
  const outer = numel(wide.slice(0, axis));
  const inner = numel(wide.slice(axis + 1));
  const wideStride = wide[axis]! * inner;
  if (node.op === 'narrow') {
    return [{ outer, len: (node.attrs.length as number) * inner, wideStride, wideStart: (node.attrs.start as number) * inner }];
  }
  let off = 0;
  return node.inputs.map((id) => {
    const len = vals[id]!.shape[axis]! * inner;
    const b = { outer, len, wideStride, wideStart: off };
    off += len;
    return b;
  });
}

/**
 * r when an operand of `shape` broadcast to `outShape` holds one value per run of r
 * consecutive outputs (its trailing axes are 1 where the output's are not, the rest equal,
 * as a (B, 1) mean against (B, n)); else 0.
 */
function runLength(shape: readonly number[], outShape: readonly number[]): number {
  const lead = outShape.length - shape.length;
  let d = outShape.length;
  let r = 1;
  while (d > 0 && (d - 1 < lead || shape[d - 1 - lead] === 1) && outShape[d - 1] !== 1) r *= outShape[--d]!;
  for (let i = 0; i < d; i++) if ((i < lead ? 1 : shape[i - lead]) !== outShape[i]) return 0;
  return r > 1 && d > 0 ? r : 0;
}

/**
 * m when an operand of `shape` broadcast to `outShape` is one row of m values repeated along
 * the leading axes (its shape without leading 1s equals the trailing axes of the output); else 0.
 */
function rowLength(shape: readonly number[], outShape: readonly number[]): number {
  let first = 0;
  while (first < shape.length && shape[first] === 1) first++;
  const k = shape.length - first;
  if (k === 0 || k >= outShape.length) return 0;
  let m = 1;
  for (let d = 0; d < k; d++) {
    if (shape[first + d] !== outShape[outShape.length - k + d]) return 0;
    m *= shape[first + d]!;
  }
  return m;
}

/** L when `axes` are the last axes of `shape` (each output sums L consecutive inputs); else 0. */
function trailingReduction(shape: readonly number[], axes: readonly number[]): number {
  const sorted = [...axes].sort((a, b) => a - b);
  if (sorted.some((a, i) => a !== shape.length - sorted.length + i)) return 0;
  return sorted.reduce((p, a) => p * shape[a]!, 1);
}

// ---------------------------------------------------------------------------------------
// Kernels: one node at step (k, t), forward and backward
// ---------------------------------------------------------------------------------------

function forwardNode(st: NodeStep, run: Run, k: number, t: number): void {
  const O = run.buf[st.out]!;
  const o = k * st.oK + t * st.oT;
  const A = run.buf[st.ins[0]!]!;
  const a = k * st.inK[0]! + t * st.inT[0]!;
  const n = st.n;
  switch (st.op) {
    case 'add': case 'mul': case 'div': {
      const B = run.buf[st.ins[1]!]!;
      const b = k * st.inK[1]! + t * st.inT[1]!;
      if (!st.ma && (st.cb > 0 || st.rb > 0) && st.op !== 'div') broadcastForward(st.op === 'mul', O, o, A, a, B, b, n, st.cb, st.rb);
      else if (st.op === 'add') addForward(O, o, A, a, st.ma, B, b, st.mb, n);
      else if (st.op === 'mul') mulForward(O, o, A, a, st.ma, B, b, st.mb, n);
      else divForward(O, o, A, a, st.ma, B, b, st.mb, n);
      return;
    }
    case 'matmul': {
      const m = st.mm!;
      const B = run.buf[st.ins[1]!]!;
      const b = k * st.inK[1]! + t * st.inT[1]!;
      gemm(m.tA, m.tB, m.M, m.N, m.K, 1, A, a, m.lda, B, b, m.ldb, 0, O, o, m.N);
      return;
    }
    case 'concat': {
      for (let j = 0; j < st.ins.length; j++) {
        const bl = st.blocks[j]!;
        blockCopy(O, o + bl.wideStart, bl.wideStride, run.buf[st.ins[j]!]!, k * st.inK[j]! + t * st.inT[j]!, bl.len, bl.len, bl.outer);
      }
      return;
    }
    case 'pad': O.fill(0, o, o + n); scatter(O, o, A, a, st.dst[0]!); return;
    case 'sum':
      if (st.rowSum > 0) rowSums(O, o, A, a, n, st.rowSum);
      else {
        O.fill(0, o, o + n);
        scatterAdd(O, o, A, a, st.dst[0]!);
      }
      return;
    case 'narrow': {
      const bl = st.blocks[0]!;
      blockCopy(O, o, bl.len, A, a + bl.wideStart, bl.wideStride, bl.len, bl.outer);
      return;
    }
    case 'expand': case 'permute': gather(O, o, A, a, st.src!, n); return;
    case 'mulAdd': {
      const buf = run.buf;
      const ins = st.ins;
      const kk = st.inK;
      const tt = st.inT;
      mulAddForward(
        O, o, A, a, buf[ins[1]!]!, k * kk[1]! + t * tt[1]!, buf[ins[2]!]!, k * kk[2]! + t * tt[2]!, buf[ins[3]!]!, k * kk[3]! + t * tt[3]!, n,
      );
      return;
    }
    case 'sliceAct': {
      const bl = st.blocks[0]!;
      sliceActivationForward(st.act!, st.f32, O, o, A, a, bl.wideStart, bl.wideStride, bl.len, bl.outer);
      return;
    }
    case 'layernorm': {
      const ln = st.ln!;
      const buf = run.buf;
      layerNormForward(
        O, o, A, a, n / ln.N, ln.N, buf[ln.d1]![0]!, buf[ln.d2]![0]!, buf[ln.eps]![0]!,
        ln.gain >= 0 ? buf[ln.gain]! : null, ln.shift >= 0 ? buf[ln.shift]! : null,
      );
      return;
    }
    default: unaryForward(st.op, st.f32, O, o, A, a, n, st.lo, st.hi);
  }
}

function backwardNode(st: NodeStep, run: Run, k: number, t: number): void {
  const G = run.grad[st.out];
  if (!G) return;
  const o = k * st.oK + t * st.oT;
  const go = k * st.goK + t * st.oT;
  const ia = st.ins[0]!;
  const GA = run.grad[ia] ?? null;
  const A = run.buf[ia]!;
  const a = k * st.inK[0]! + t * st.inT[0]!;
  const ga = k * st.ginK[0]! + t * st.inT[0]!;
  const n = st.n;
  switch (st.op) {
    case 'add': case 'mul': case 'div': {
      const ib = st.ins[1]!;
      const GB = run.grad[ib] ?? null;
      const B = run.buf[ib]!;
      const b = k * st.inK[1]! + t * st.inT[1]!;
      const gb = k * st.ginK[1]! + t * st.inT[1]!;
      if (st.op === 'add') {
        // d(a + b) = da + db, each summed back over its broadcast axes
        if (GA) st.ca > 0 ? runSums(GA, ga, G, go, null, 0, n, st.ca) : gatherAdd(GA, ga, G, go, st.ma, n);
        if (GB) st.cb > 0 ? runSums(GB, gb, G, go, null, 0, n, st.cb) : st.rb > 0 ? rowAccumulate(GB, gb, G, go, null, 0, n, st.rb) : gatherAdd(GB, gb, G, go, st.mb, n);
      } else if (st.op === 'mul') {
        // d(a · b) = b da + a db
        if (GA) st.ca > 0 && !st.mb ? runSums(GA, ga, G, go, B, b, n, st.ca) : mulBackward(GA, ga, st.ma, G, go, B, b, st.mb, n);
        if (GB) {
          if (st.cb > 0 && !st.ma) runSums(GB, gb, G, go, A, a, n, st.cb);
          else if (st.rb > 0 && !st.ma) rowAccumulate(GB, gb, G, go, A, a, n, st.rb);
          else mulBackward(GB, gb, st.mb, G, go, A, a, st.ma, n);
        }
      } else divBackward(GA, ga, GB, gb, G, go, A, a, st.ma, B, b, st.mb, n);
      return;
    }
    case 'matmul': {
      const m = st.mm!;
      const ib = st.ins[1]!;
      const GB = run.grad[ib] ?? null;
      const B = run.buf[ib]!;
      const b = k * st.inK[1]! + t * st.inT[1]!;
      const gb = k * st.ginK[1]! + t * st.inT[1]!;
      if (GA) matmulGradA(m, m.M, G, go, GA, ga, B, b);
      if (GB && !m.deferred) matmulGradB(m, m.M, G, go, A, a, GB, gb);
      return;
    }
    case 'concat': {
      // d concat = the matching slices of dy
      for (let j = 0; j < st.ins.length; j++) {
        const GX = run.grad[st.ins[j]!];
        const bl = st.blocks[j]!;
        if (GX) blockAdd(GX, k * st.ginK[j]! + t * st.inT[j]!, bl.len, G, go + bl.wideStart, bl.wideStride, bl.len, bl.outer);
      }
      return;
    }
    // d Σx = dy broadcast back
    case 'sum':
      if (GA && st.rowSum > 0) runBroadcastAdd(GA, ga, G, go, n, st.rowSum);
      else if (GA) addGathered(GA, ga, G, go, st.dst[0]!);
      return;
    // d pad(x) = the window of dy where x was placed
    case 'pad': if (GA) addGathered(GA, ga, G, go, st.dst[0]!); return;
    // the gradient goes back to where each element was read from
    case 'narrow': {
      const bl = st.blocks[0]!;
      if (GA) blockAdd(GA, ga + bl.wideStart, bl.wideStride, G, go, bl.len, bl.len, bl.outer);
      return;
    }
    case 'expand': case 'permute': if (GA) scatterAdd(GA, ga, G, go, st.src!); return;
    // d(a·b + c·d) = b da + a db + d dc + c dd
    case 'mulAdd': {
      for (let j = 0; j < 4; j++) {
        const GX = run.grad[st.ins[j]!];
        const y = j ^ 1;
        if (GX) mulAddBackward(GX, k * st.ginK[j]! + t * st.inT[j]!, G, go, run.buf[st.ins[y]!]!, k * st.inK[y]! + t * st.inT[y]!, n);
      }
      return;
    }
    // d act(x) as for the unfused activation, into the slice of the wider value's gradient
    case 'sliceAct': {
      const bl = st.blocks[0]!;
      if (GA) sliceActivationBackward(st.act!, GA, ga, G, go, run.buf[st.out]!, o, bl.wideStart, bl.wideStride, bl.len, bl.outer);
      return;
    }
    case 'layernorm': {
      const ln = st.ln!;
      const buf = run.buf;
      layerNormBackward(
        GA, ga, G, go, A, a, n / ln.N, ln.N, buf[ln.d1]![0]!, buf[ln.d2]![0]!, buf[ln.eps]![0]!,
        ln.gain >= 0 ? buf[ln.gain]! : null, ln.gain >= 0 ? run.grad[ln.gain] ?? null : null,
        ln.shift >= 0 ? run.grad[ln.shift] ?? null : null,
      );
      return;
    }
    default: if (GA) unaryBackward(st.op, GA, ga, G, go, A, a, run.buf[st.out]!, o, n, st.lo, st.hi);
  }
}

/** Σ X[base, base + N) / d1: a layer norm row's mean. */
function rowMean(X: FA, base: number, N: number, d1: number): number {
  let sum = 0;
  for (let j = 0; j < N; j++) sum += X[base + j]!;
  return sum / d1;
}

/** √(Σ (X[base + j] − m)² / d2 + eps): a layer norm row's standard deviation. */
function rowStd(X: FA, base: number, N: number, m: number, d2: number, eps: number): number {
  let sq = 0;
  for (let j = 0; j < N; j++) {
    const c = X[base + j]! - m;
    sq += c * c;
  }
  return Math.sqrt(sq / d2 + eps);
}

/**
 * Per row of N: m = Σx / d1, s = √(Σ(x − m)² / d2 + eps), O = (x − m) / s · gain + shift
 * (gain, shift null: 1, 0).
 */
function layerNormForward(
  O: FA, o: number, X: FA, x: number, rows: number, N: number, d1: number, d2: number, eps: number, gain: FA | null, shift: FA | null,
): void {
  for (let r = 0; r < rows; r++) {
    const base = x + r * N;
    const ob = o + r * N;
    const m = rowMean(X, base, N, d1);
    const s = rowStd(X, base, N, m, d2, eps);
    if (gain && shift) for (let j = 0; j < N; j++) O[ob + j] = ((X[base + j]! - m) / s) * gain[j]! + shift[j]!;
    else if (gain) for (let j = 0; j < N; j++) O[ob + j] = ((X[base + j]! - m) / s) * gain[j]!;
    else if (shift) for (let j = 0; j < N; j++) O[ob + j] = (X[base + j]! - m) / s + shift[j]!;
    else for (let j = 0; j < N; j++) O[ob + j] = (X[base + j]! - m) / s;
  }
}

/**
 * The gradient of layerNormForward, recomputing m and s from x. With x̂ = (x − m) / s and
 * dy = G · gain: d gain += G x̂, d shift += G, and
 * dc = (dy − x̂ Σ(dy x̂) / d2) / s (through the centred value and the variance),
 * dx += dc − Σdc / d1 (through the mean), Σdc = (Σdy − Σx̂ Σ(dy x̂) / d2) / s.
 */
function layerNormBackward(
  GX: FA | null, gx: number, G: FA, g: number, X: FA, x: number, rows: number, N: number, d1: number, d2: number, eps: number,
  gain: FA | null, dGain: FA | null, dShift: FA | null,
): void {
  if (lnScratch.length < 2 * N) lnScratch = new Float64Array(2 * N);
  const xh = lnScratch;
  for (let r = 0; r < rows; r++) {
    const base = x + r * N;
    const gb = g + r * N;
    const m = rowMean(X, base, N, d1);
    const s = rowStd(X, base, N, m, d2, eps);
    // x̂ in xh[0, N), dy in xh[N, 2N)
    let sdy = 0;
    let sxh = 0;
    let sdyx = 0;
    for (let j = 0; j < N; j++) {
      const v = (X[base + j]! - m) / s;
      const dy = gain ? G[gb + j]! * gain[j]! : G[gb + j]!;
      xh[j] = v;
      xh[N + j] = dy;
      sdy += dy;
      sxh += v;
      sdyx += dy * v;
    }
    if (dShift) for (let j = 0; j < N; j++) dShift[j]! += G[gb + j]!;
    if (dGain) for (let j = 0; j < N; j++) dGain[j]! += G[gb + j]! * xh[j]!;
    if (!GX) continue;
    const k = sdyx / d2;
    const inv = 1 / s;
    const mdc = ((sdy - sxh * k) * inv) / d1;
    const xb = gx + r * N;
    for (let j = 0; j < N; j++) GX[xb + j]! += (xh[N + j]! - xh[j]! * k) * inv - mdc;
  }
}

/** Scratch of layerNormBackward (x̂ and dy of one row), grown to the widest row seen. */
let lnScratch = new Float64Array(0);

function matmulAllForward(st: NodeStep, run: Run): void {
  const m = st.mm!;
  gemm(false, m.tB, run.T * m.M, m.N, m.K, 1, run.buf[st.ins[0]!]!, 0, m.lda, run.buf[st.ins[1]!]!, 0, m.ldb, 0, run.buf[st.out]!, 0, m.N);
}

function matmulAllBackward(st: NodeStep, run: Run): void {
  const m = st.mm!;
  const G = run.grad[st.out];
  if (!G) return;
  const GA = run.grad[st.ins[0]!];
  const GB = run.grad[st.ins[1]!];
  if (GA) matmulGradA(m, run.T * m.M, G, 0, GA, 0, run.buf[st.ins[1]!]!, 0);
  if (GB) matmulGradB(m, run.T * m.M, G, 0, run.buf[st.ins[0]!]!, 0, GB, 0);
}

function matmulDeferredBackward(st: NodeStep, run: Run): void {
  const m = st.mm!;
  const G = run.grad[st.out];
  const GB = run.grad[st.ins[1]!];
  if (G && GB) matmulGradB(m, run.T * m.M, G, 0, run.buf[st.ins[0]!]!, 0, GB, 0);
}

type MM = NonNullable<NodeStep['mm']>;

// C = X Y with X = op(A) (M, K), Y = op(B) (K, N): dX = dC Yᵀ, dY = Xᵀ dC; a transposed operand takes the transpose.
function matmulGradA(m: MM, rows: number, G: FA, g: number, GA: FA, a: number, B: FA, b: number): void {
  if (m.tA) gemm(m.tB, true, m.K, rows, m.N, 1, B, b, m.ldb, G, g, m.N, 1, GA, a, m.lda);
  else gemm(false, !m.tB, rows, m.K, m.N, 1, G, g, m.N, B, b, m.ldb, 1, GA, a, m.K);
}

function matmulGradB(m: MM, rows: number, G: FA, g: number, A: FA, a: number, GB: FA, b: number): void {
  if (m.tB) gemm(true, m.tA, m.N, m.K, rows, 1, G, g, m.N, A, a, m.lda, 1, GB, b, m.K);
  else gemm(!m.tA, false, m.K, m.N, rows, 1, A, a, m.lda, G, g, m.N, 1, GB, b, m.N);
}

function addForward(O: FA, o: number, A: FA, a: number, ma: Int32Array | null, B: FA, b: number, mb: Int32Array | null, n: number): void {
  if (!ma && !mb) for (let i = 0; i < n; i++) O[o + i] = A[a + i]! + B[b + i]!;
  else if (!ma) for (let i = 0; i < n; i++) O[o + i] = A[a + i]! + B[b + mb![i]!]!;
  else if (!mb) for (let i = 0; i < n; i++) O[o + i] = A[a + ma[i]!]! + B[b + i]!;
  else for (let i = 0; i < n; i++) O[o + i] = A[a + ma[i]!]! + B[b + mb[i]!]!;
}

function mulForward(O: FA, o: number, A: FA, a: number, ma: Int32Array | null, B: FA, b: number, mb: Int32Array | null, n: number): void {
  if (!ma && !mb) for (let i = 0; i < n; i++) O[o + i] = A[a + i]! * B[b + i]!;
  else if (!ma) for (let i = 0; i < n; i++) O[o + i] = A[a + i]! * B[b + mb![i]!]!;
  else if (!mb) for (let i = 0; i < n; i++) O[o + i] = A[a + ma[i]!]! * B[b + i]!;
  else for (let i = 0; i < n; i++) O[o + i] = A[a + ma[i]!]! * B[b + mb[i]!]!;
}

function divForward(O: FA, o: number, A: FA, a: number, ma: Int32Array | null, B: FA, b: number, mb: Int32Array | null, n: number): void {
  if (!ma && !mb) for (let i = 0; i < n; i++) O[o + i] = A[a + i]! / B[b + i]!;
  else if (!ma) for (let i = 0; i < n; i++) O[o + i] = A[a + i]! / B[b + mb![i]!]!;
  else for (let i = 0; i < n; i++) O[o + i] = A[a + ma[i]!]! / B[b + (mb ? mb[i]! : i)]!;
}

/**
 * O = A + B or A · B with A of the output's shape and B one value per run of `run` outputs
 * (run > 0) or one row of `row` values repeated (row > 0).
 */
function broadcastForward(mul: boolean, O: FA, o: number, A: FA, a: number, B: FA, b: number, n: number, run: number, row: number): void {
  const len = run > 0 ? run : row;
  for (let r = 0, base = 0; base < n; r++, base += len) {
    const oo = o + base;
    const ao = a + base;
    if (run > 0) {
      const v = B[b + r]!;
      if (mul) for (let j = 0; j < len; j++) O[oo + j] = A[ao + j]! * v;
      else for (let j = 0; j < len; j++) O[oo + j] = A[ao + j]! + v;
    } else if (mul) for (let j = 0; j < len; j++) O[oo + j] = A[ao + j]! * B[b + j]!;
    else for (let j = 0; j < len; j++) O[oo + j] = A[ao + j]! + B[b + j]!;
  }
}

/** GX[x + j] += Σ_r G[g + r·row + j] · Y[y + r·row + j] (Y null: 1): the gradient of a repeated row. */
function rowAccumulate(GX: FA, x: number, G: FA, g: number, Y: FA | null, y: number, n: number, row: number): void {
  for (let base = 0; base < n; base += row) {
    const go = g + base;
    if (Y) {
      const yo = y + base;
      for (let j = 0; j < row; j++) GX[x + j]! += G[go + j]! * Y[yo + j]!;
    } else for (let j = 0; j < row; j++) GX[x + j]! += G[go + j]!;
  }
}

/** GX[x + map[i]] += G[g + i] (map null: identity). */
function gatherAdd(GX: FA, x: number, G: FA, g: number, map: Int32Array | null, n: number): void {
  if (!map) for (let i = 0; i < n; i++) GX[x + i]! += G[g + i]!;
  else for (let i = 0; i < n; i++) GX[x + map[i]!]! += G[g + i]!;
}

/** GX[x + mx[i]] += G[g + i] · Y[y + my[i]]: the gradient of one factor of a product (null maps: identity). */
function mulBackward(GX: FA, x: number, mx: Int32Array | null, G: FA, g: number, Y: FA, y: number, my: Int32Array | null, n: number): void {
  if (!mx && !my) for (let i = 0; i < n; i++) GX[x + i]! += G[g + i]! * Y[y + i]!;
  else if (!mx) for (let i = 0; i < n; i++) GX[x + i]! += G[g + i]! * Y[y + my![i]!]!;
  else if (!my) for (let i = 0; i < n; i++) GX[x + mx[i]!]! += G[g + i]! * Y[y + i]!;
  else for (let i = 0; i < n; i++) GX[x + mx[i]!]! += G[g + i]! * Y[y + my[i]!]!;
}

// d(a / b) = da / b − (dy / b)(a / b) db
function divBackward(
  GA: FA | null, ga: number, GB: FA | null, gb: number, G: FA, g: number,
  A: FA, a: number, ma: Int32Array | null, B: FA, b: number, mb: Int32Array | null, n: number,
): void {
  for (let i = 0; i < n; i++) {
    const ia = ma ? ma[i]! : i;
    const ib = mb ? mb[i]! : i;
    const q = G[g + i]! / B[b + ib]!;
    if (GA) GA[ga + ia]! += q;
    if (GB) GB[gb + ib]! += -(q * (A[a + ia]! / B[b + ib]!));
  }
}

/** dst (Q, P, I) = src (P, Q, I) with the two leading axes swapped. */
function swapLeadingAxes(dst: FA, src: FA, P: number, Q: number, I: number): void {
  for (let p = 0; p < P; p++) {
    for (let q = 0; q < Q; q++) {
      const s = (p * Q + q) * I;
      const d = (q * P + p) * I;
      for (let i = 0; i < I; i++) dst[d + i] = src[s + i]!;
    }
  }
}

/**
 * S[cur + n …] = the step's new state entry (src at so), row by row: rows past their
 * sequence's length keep the state of step k (S[cur …]).
 */
function nextState(S: FA, cur: number, src: FA, so: number, n: number, B: number, lengths: Int32Array | null, t: number): void {
  const nxt = cur + n;
  if (!lengths) {
    for (let i = 0; i < n; i++) S[nxt + i] = src[so + i]!;
    return;
  }
  const ne = n / B;
  for (let b = 0; b < B; b++) {
    const r = b * ne;
    if (t < lengths[b]!) for (let j = 0; j < ne; j++) S[nxt + r + j] = src[so + r + j]!;
    else for (let j = 0; j < ne; j++) S[nxt + r + j] = S[cur + r + j]!;
  }
}

/** The gradient of nextState: live rows to the step's output (gu at uo), frozen rows to the state of step k. */
function nextStateBackward(dS: FA, cur: number, gu: FA | null, uo: number, n: number, B: number, lengths: Int32Array | null, t: number): void {
  const nxt = cur + n;
  if (!lengths) {
    if (gu) for (let i = 0; i < n; i++) gu[uo + i]! += dS[nxt + i]!;
    return;
  }
  const ne = n / B;
  for (let b = 0; b < B; b++) {
    const r = b * ne;
    if (t < lengths[b]!) {
      if (gu) for (let j = 0; j < ne; j++) gu[uo + r + j]! += dS[nxt + r + j]!;
    } else for (let j = 0; j < ne; j++) dS[cur + r + j]! += dS[nxt + r + j]!;
  }
}

/** out[b, t, :] (B, T, ne) = src rows at so, left 0 past each length. */
function writeStep(out: FA, src: FA, so: number, B: number, T: number, t: number, ne: number, lengths: Int32Array | null): void {
  for (let b = 0; b < B; b++) {
    if (lengths && t >= lengths[b]!) continue;
    const o = (b * T + t) * ne;
    const r = so + b * ne;
    for (let j = 0; j < ne; j++) out[o + j] = src[r + j]!;
  }
}

/** The gradient of writeStep: gu rows at uo += d[b, t, :] for the rows inside their length. */
function readStep(gu: FA, uo: number, d: FA, B: number, T: number, t: number, ne: number, lengths: Int32Array | null): void {
  for (let b = 0; b < B; b++) {
    if (lengths && t >= lengths[b]!) continue;
    const o = (b * T + t) * ne;
    const r = uo + b * ne;
    for (let j = 0; j < ne; j++) gu[r + j]! += d[o + j]!;
  }
}

/** O[o + r] = Σ_j X[x + r·len + j] for r < rows: a sum over trailing axes, in order. */
function rowSums(O: FA, o: number, X: FA, x: number, rows: number, len: number): void {
  for (let r = 0; r < rows; r++) {
    let acc = 0;
    const base = x + r * len;
    for (let j = 0; j < len; j++) acc += X[base + j]!;
    O[o + r] = acc;
  }
}

/** GX[x + r·len + j] += G[g + r] for r < rows: the gradient of a sum over trailing axes. */
function runBroadcastAdd(GX: FA, x: number, G: FA, g: number, rows: number, len: number): void {
  for (let r = 0; r < rows; r++) {
    const v = G[g + r]!;
    const base = x + r * len;
    for (let j = 0; j < len; j++) GX[base + j]! += v;
  }
}

/**
 * GX[x + r] += Σ_j G[g + r·len + j] · Y[y + r·len + j] (Y null: 1): the gradient of an operand
 * that holds one value per run of `len` outputs, summed over its run.
 */
function runSums(GX: FA, x: number, G: FA, g: number, Y: FA | null, y: number, n: number, len: number): void {
  for (let r = 0, base = 0; base < n; r++, base += len) {
    let acc = 0;
    if (Y) for (let j = 0; j < len; j++) acc += G[g + base + j]! * Y[y + base + j]!;
    else for (let j = 0; j < len; j++) acc += G[g + base + j]!;
    GX[x + r]! += acc;
  }
}

/** GX[x + i] += G[g + map[i]]. */
function addGathered(GX: FA, x: number, G: FA, g: number, map: Int32Array): void {
  for (let i = 0; i < map.length; i++) GX[x + i]! += G[g + map[i]!]!;
}

/** `rows` blocks of `len`: O[o + r·oStride + j] = X[x + r·xStride + j]. */
function blockCopy(O: FA, o: number, oStride: number, X: FA, x: number, xStride: number, len: number, rows: number): void {
  for (let r = 0; r < rows; r++) {
    const d = o + r * oStride;
    const s = x + r * xStride;
    for (let j = 0; j < len; j++) O[d + j] = X[s + j]!;
  }
}

/** `rows` blocks of `len`: GX[x + r·xStride + j] += G[g + r·gStride + j]. */
function blockAdd(GX: FA, x: number, xStride: number, G: FA, g: number, gStride: number, len: number, rows: number): void {
  for (let r = 0; r < rows; r++) {
    const d = x + r * xStride;
    const s = g + r * gStride;
    for (let j = 0; j < len; j++) GX[d + j]! += G[s + j]!;
  }
}

/** O[o + i] = X[x + src[i]]. */
function gather(O: FA, o: number, X: FA, x: number, src: Int32Array, n: number): void {
  for (let i = 0; i < n; i++) O[o + i] = X[x + src[i]!]!;
}

/** O[o + dst[i]] = X[x + i]. */
function scatter(O: FA, o: number, X: FA, x: number, dst: Int32Array): void {
  for (let i = 0; i < dst.length; i++) O[o + dst[i]!] = X[x + i]!;
}

/** O[o + dst[i]] += X[x + i]. */
function scatterAdd(O: FA, o: number, X: FA, x: number, dst: Int32Array): void {
  for (let i = 0; i < dst.length; i++) O[o + dst[i]!]! += X[x + i]!;
}

function unaryForward(op: TraceNode['op'], f32: boolean, O: FA, o: number, A: FA, a: number, n: number, lo: number, hi: number): void {
  switch (op) {
    case 'neg': for (let i = 0; i < n; i++) O[o + i] = -A[a + i]!; return;
    case 'cast': case 'reshape': for (let i = 0; i < n; i++) O[o + i] = A[a + i]!; return;
    case 'exp': for (let i = 0; i < n; i++) O[o + i] = Math.exp(A[a + i]!); return;
    case 'log': for (let i = 0; i < n; i++) O[o + i] = Math.log(A[a + i]!); return;
    case 'sqrt': for (let i = 0; i < n; i++) O[o + i] = Math.sqrt(A[a + i]!); return;
    case 'abs': for (let i = 0; i < n; i++) O[o + i] = Math.abs(A[a + i]!); return;
    case 'tanh':
      if (f32) for (let i = 0; i < n; i++) O[o + i] = tanhF32(A[a + i]!);
      else for (let i = 0; i < n; i++) O[o + i] = Math.tanh(A[a + i]!);
      return;
    case 'sigmoid':
      if (f32) for (let i = 0; i < n; i++) O[o + i] = sigmoidF32(A[a + i]!);
      else for (let i = 0; i < n; i++) O[o + i] = sigmoidScalar(A[a + i]!);
      return;
    case 'relu': for (let i = 0; i < n; i++) { const v = A[a + i]!; O[o + i] = v > 0 ? v : 0; } return;
    case 'clamp':
      for (let i = 0; i < n; i++) { const v = A[a + i]!; O[o + i] = v < lo ? (lo > hi ? hi : lo) : v > hi ? hi : v; }
      return;
    default: throw new Error(`scan plan: no forward rule for '${op}'`);
  }
}

/** GA += dy · f'(x), from the input A (at a) and the output Y (at o) of the forward; gradients at ga and g. */
function unaryBackward(
  op: TraceNode['op'], GA: FA, ga: number, G: FA, g: number, A: FA, a: number, Y: FA, o: number, n: number, lo: number, hi: number,
): void {
  switch (op) {
    // d(−x) = −dy
    case 'neg': for (let i = 0; i < n; i++) GA[ga + i]! -= G[g + i]!; return;
    // d copy(x) = dy
    case 'cast': case 'reshape': for (let i = 0; i < n; i++) GA[ga + i]! += G[g + i]!; return;
    // d exp(x) = y dy
    case 'exp': for (let i = 0; i < n; i++) GA[ga + i]! += G[g + i]! * Y[o + i]!; return;
    // d ln(x) = dy / x
    case 'log': for (let i = 0; i < n; i++) GA[ga + i]! += G[g + i]! / A[a + i]!; return;
    // d √x = dy / (2 √x)
    case 'sqrt': for (let i = 0; i < n; i++) GA[ga + i]! += G[g + i]! / (Y[o + i]! * 2); return;
    // d |x| = sign(x) dy
    case 'abs': for (let i = 0; i < n; i++) { const v = A[a + i]!; GA[ga + i]! += G[g + i]! * (v > 0 ? 1 : v < 0 ? -1 : 0); } return;
    // d tanh(x) = (1 − y²) dy
    case 'tanh': for (let i = 0; i < n; i++) { const y = Y[o + i]!; GA[ga + i]! += G[g + i]! * (1 - y * y); } return;
    // d σ(x) = y (1 − y) dy
    case 'sigmoid': for (let i = 0; i < n; i++) { const y = Y[o + i]!; GA[ga + i]! += G[g + i]! * (y * (1 - y)); } return;
    // d relu(x) = [x > 0] dy
    case 'relu': for (let i = 0; i < n; i++) GA[ga + i]! += G[g + i]! * (A[a + i]! > 0 ? 1 : 0); return;
    // d clamp(x) = [lo ≤ x ≤ hi] dy
    case 'clamp': for (let i = 0; i < n; i++) { const v = A[a + i]!; GA[ga + i]! += G[g + i]! * (v >= lo && v <= hi ? 1 : 0); } return;
    default: throw new Error(`scan plan: no backward rule for '${op}'`);
  }
}
