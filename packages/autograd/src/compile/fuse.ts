/**
 * Elementwise fusions of the compiled plan's recurrent part, each one loop per step forward and
 * one backward, over plain typed arrays:
 * - an activation of a slice (sigmoid or tanh of one chunk of the gate pre-activations) reads
 *   the slice where it lies in the wider value, so the slice is never copied, stored or given
 *   a gradient buffer of its own;
 * - a sum of two products (c' = f c + i g) computes both products in the sum's loop, so
 *   neither is stored nor has a gradient buffer.
 */
import { sigmoidF32, sigmoidScalar, tanhF32 } from '../kernels/elementwise.js';
import type { StepGraph } from './trace.js';

type FA = Float32Array | Float64Array;

/** An activation whose derivative is a function of its output alone (so its input need not be kept). */
export type SliceActivation = 'sigmoid' | 'tanh';

/** A narrow (one contiguous block per row) read only by a sigmoid or tanh: both run as one step. */
export interface SliceActivationFusion {
  act: SliceActivation;
  /** The graph index of the narrow node (fused away) and of the activation node (its output is the step's output). */
  narrow: number;
  node: number;
}

/**
 * The narrows of the recurrent part read by exactly one node, a sigmoid or tanh of the same
 * region, and by no state output.
 */
export function findSliceActivations(graph: StepGraph): SliceActivationFusion[] {
  const uses = graph.values.map(() => 0);
  for (const n of graph.nodes) for (const i of n.inputs) uses[i]!++;
  for (const o of graph.stateOut) uses[o]! += 1;
  const producer = new Map<number, number>();
  graph.nodes.forEach((n, i) => producer.set(n.output, i));
  const found: SliceActivationFusion[] = [];
  graph.nodes.forEach((n, i) => {
    if ((n.op !== 'sigmoid' && n.op !== 'tanh') || n.region !== 'rec') return;
    const p = producer.get(n.inputs[0]!);
    if (p === undefined) return;
    const nn = graph.nodes[p]!;
    if (nn.op !== 'narrow' || nn.region !== 'rec' || uses[nn.output] !== 1) return;
    found.push({ act: n.op, narrow: p, node: i });
  });
  return found;
}

/**
 * O[o + r·len + j] = act(A[a + start + r·stride + j]) for r < rows, j < len
 * (float32 results through the float32 activations, as the unfused sigmoid and tanh).
 */
export function sliceActivationForward(
  act: SliceActivation, f32: boolean, O: FA, o: number, A: FA, a: number, start: number, stride: number, len: number, rows: number,
): void {
  for (let r = 0; r < rows; r++) {
    const d = o + r * len;
    const s = a + start + r * stride;
    if (act === 'sigmoid') {
      if (f32) for (let j = 0; j < len; j++) O[d + j] = sigmoidF32(A[s + j]!);
      else for (let j = 0; j < len; j++) O[d + j] = sigmoidScalar(A[s + j]!);
    } else if (f32) for (let j = 0; j < len; j++) O[d + j] = tanhF32(A[s + j]!);
    else for (let j = 0; j < len; j++) O[d + j] = Math.tanh(A[s + j]!);
  }
}

/**
 * The gradient of sliceActivationForward into the wider value's gradient:
 * GA[ga + start + r·stride + j] += G[g + r·len + j] · act'(y), with y = Y[o + r·len + j] and
 * d σ(x) = y (1 − y) dy, d tanh(x) = (1 − y²) dy.
 */
export function sliceActivationBackward(
  act: SliceActivation, GA: FA, ga: number, G: FA, g: number, Y: FA, o: number, start: number, stride: number, len: number, rows: number,
): void {
  for (let r = 0; r < rows; r++) {
    const d = ga + start + r * stride;
    const s = g + r * len;
    const yo = o + r * len;
    if (act === 'sigmoid') for (let j = 0; j < len; j++) { const y = Y[yo + j]!; GA[d + j]! += G[s + j]! * (y * (1 - y)); }
    else for (let j = 0; j < len; j++) { const y = Y[yo + j]!; GA[d + j]! += G[s + j]! * (1 - y * y); }
  }
}

/** a·b + c·d of four values of the output's shape, whose two products are read only by the sum: one step. */
export interface MulAddFusion {
  /** The graph indices of the two products (fused away) and of the sum (its output is the step's output). */
  muls: [number, number];
  node: number;
}

/**
 * The sums of two products in the recurrent part, with no broadcasting in any of the three
 * nodes and each product read only by the sum (as c' = f c + i g in an LSTM).
 */
export function findMulAdds(graph: StepGraph): MulAddFusion[] {
  const vals = graph.values;
  const uses = vals.map(() => 0);
  for (const n of graph.nodes) for (const i of n.inputs) uses[i]!++;
  for (const o of graph.stateOut) uses[o]! += 1;
  const producer = new Map<number, number>();
  graph.nodes.forEach((n, i) => producer.set(n.output, i));
  const sameShape = (id: number, shape: readonly number[]) => {
    const s = vals[id]!.shape;
    return s.length === shape.length && s.every((d, i) => d === shape[i]);
  };
  const found: MulAddFusion[] = [];
  graph.nodes.forEach((n, i) => {
    if (n.op !== 'add' || n.region !== 'rec') return;
    const shape = vals[n.output]!.shape;
    const [p, q] = n.inputs as [number, number];
    if (p === q) return;
    const muls = [p, q].map((id) => {
      const k = producer.get(id);
      const m = k === undefined ? undefined : graph.nodes[k];
      if (!m || m.op !== 'mul' || m.region !== 'rec' || uses[id] !== 1) return -1;
      return sameShape(id, shape) && m.inputs.every((x) => sameShape(x, shape)) ? k! : -1;
    });
    if (muls[0]! < 0 || muls[1]! < 0) return;
    found.push({ muls: [muls[0]!, muls[1]!], node: i });
  });
  return found;
}

/** O[o + i] = A[a + i] · B[b + i] + C[c + i] · D[d + i]: the two products and their sum in one loop. */
export function mulAddForward(O: FA, o: number, A: FA, a: number, B: FA, b: number, C: FA, c: number, D: FA, d: number, n: number): void {
  for (let i = 0; i < n; i++) O[o + i] = A[a + i]! * B[b + i]! + C[c + i]! * D[d + i]!;
}

/** GX[x + i] += G[g + i] · Y[y + i]: d(x · y) = y dy for one factor of one product. */
export function mulAddBackward(GX: FA, x: number, G: FA, g: number, Y: FA, y: number, n: number): void {
  for (let i = 0; i < n; i++) GX[x + i]! += G[g + i]! * Y[y + i]!;
}
