/**
 * The traced step graph as public API: what `scan` compiles, for tools that translate a cell's
 * step into another form (the ONNX exporter writes it as the body of an ONNX `Scan`).
 */
import { SeqgradError, fmt } from '../errors.js';
import { Tensor } from '../tensor.js';
import type { ScanState, ScanStep } from './scan.js';
import { type TraceResult, traceStep } from './trace.js';

export { COMPILED_PRIMITIVES } from './trace.js';
export type { Region, StepGraph, TraceNode, TraceResult, TraceValue } from './trace.js';

/**
 * Traces one step `(x_t, state) → state` into a static graph of primitives, exactly as `scan`
 * does before compiling it: values (`x`, the state entries, captures — the tensors the step
 * reads but did not make, such as parameters — and node outputs, each with its concrete shape
 * at this batch size) and nodes (a primitive, its input value ids, its output value id and its
 * non-tensor arguments: `axes`/`keepdim` for sum, `shape` for reshape and expand, `perm` for
 * permute, `axis`/`start`/`length` for narrow, `axis`/`before`/`total` for pad, `axis` for
 * concat, `transA`/`transB` for matmul, `lo`/`hi` for clamp). The state keys are ordered with
 * `h` first. A step that cannot be traced (it reads values, draws random numbers, uses a
 * function the compiler does not know) gives `{ ok: false, reason }`, the reason `explainScan`
 * states.
 *
 * Shapes: x (B, I); every state entry (B, n).
 *
 * @example
 * const cell = new GRUCell(3, 4);
 * const r = traceStepGraph(cell, randn([2, 3]), cell.initialState(2));
 * if (r.ok) r.graph.nodes.map((n) => n.op); // ['matmul', 'add', …, 'tanh', …]
 */
export function traceStepGraph<S extends ScanState>(
  step: ScanStep<S>, x: Tensor, state: S, opts: { check?: (next: unknown) => ScanState } = {},
): TraceResult {
  const op = 'traceStepGraph';
  if (!(x instanceof Tensor) || x.ndim !== 2 || x.dtype === 'int32') {
    throw new SeqgradError(op, `x must be a float (B, I) tensor, got ${x instanceof Tensor ? `${x.dtype}${fmt(x.shape)}` : typeof x}`);
  }
  if (state === null || typeof state !== 'object' || !(state.h instanceof Tensor)) {
    throw new SeqgradError(op, 'state must be a state object with at least an h tensor, e.g. { h }');
  }
  const keys = ['h', ...Object.keys(state).filter((k) => k !== 'h')];
  for (const k of keys) {
    const s = state[k];
    if (!(s instanceof Tensor) || s.ndim !== 2 || s.shape[0] !== x.shape[0] || s.dtype !== x.dtype) {
      throw new SeqgradError(op, `state.${k} must be a ${x.dtype} (B=${x.shape[0]}, n) tensor for x${fmt(x.shape)}, got ${s instanceof Tensor ? `${s.dtype}${fmt(s.shape)}` : typeof s}`);
    }
  }
  const plain = typeof step === 'function' ? step : (step as { step?: unknown }).step;
  if (typeof plain !== 'function') throw new SeqgradError(op, 'step must be a function (x, state) => state or an object with a step method');
  const call = typeof step === 'function' ? step : (xt: Tensor, s: S) => step.step(xt, s);
  const check = opts.check;
  const fn = check ? (xt: Tensor, s: S) => check(call(xt, s)) as S : call;
  return traceStep(fn as never, x, state as Record<string, Tensor>, keys);
}
