import { describe, expect, test } from 'vitest';
import {
  COMPILED_PRIMITIVES, Generator, SeqgradError, type Tensor, add, explainScan, linear, mul, randn, sigmoid, tanh, traceStepGraph, zeros,
} from '@seqgrad/autograd';

/** traceStepGraph: the step graph scan compiles, as public API. */
describe('traceStepGraph', () => {
  const gen = new Generator(1);
  const W = randn([4, 3], { generator: gen });
  const U = randn([4, 4], { generator: gen });
  type S = { c: Tensor; h: Tensor };
  const step = (x: Tensor, s: S): S => {
    const c = add(mul(sigmoid(linear(x, W)), s.c), tanh(linear(s.h, U)));
    return { c, h: tanh(c) };
  };

  test('traceStepGraph: records the primitives, h first among the state keys, parameters as captures, shapes at this batch', () => {
    const r = traceStepGraph(step, randn([2, 3]), { c: zeros([2, 4]), h: zeros([2, 4]) });
    if (!r.ok) throw new Error(r.reason);
    const g = r.graph;
    expect(g.keys).toEqual(['h', 'c']);
    expect(g.stateIn.map((id) => g.values[id]!.key)).toEqual(['h', 'c']);
    expect(g.captures.map((id) => g.values[id]!.tensor)).toEqual(expect.arrayContaining([W, U]));
    expect(g.values[g.x]!.shape).toEqual([2, 3]);
    expect(g.nodes.map((n) => n.op)).toEqual(['matmul', 'sigmoid', 'mul', 'matmul', 'tanh', 'add', 'tanh']);
    expect(g.nodes.every((n) => COMPILED_PRIMITIVES.has(n.op))).toBe(true);
    // x·Wᵀ: the recorded matmul transposes its right operand.
    expect(g.nodes[0]!.attrs).toEqual({ transA: false, transB: true });
    expect(g.values[g.stateOut[0]!]!.shape).toEqual([2, 4]);
  });

  test('traceStepGraph: a step it cannot trace gives the reason explainScan gives; bad arguments are refused', () => {
    const peek = (x: Tensor, s: { h: Tensor }) => ({ h: s.h.data[0]! > 0 ? tanh(linear(x, W)) : s.h });
    const r = traceStepGraph(peek, randn([2, 3]), { h: zeros([2, 4]) });
    expect(r.ok).toBe(false);
    const reason = explainScan(peek, randn([2, 5, 3]), { h: zeros([2, 4]) }).reason!;
    expect(!r.ok && r.reason).toBe(reason);
    expect(reason).toMatch(/reads tensor values/);
    expect(() => traceStepGraph(step as never, randn([2, 5, 3]), { h: zeros([2, 4]) } as never)).toThrow(SeqgradError);
    expect(() => traceStepGraph(step as never, randn([2, 3]), { h: zeros([3, 4]) } as never)).toThrow(/traceStepGraph: state\.h must be a float32 \(B=2, n\) tensor for x\[2,3\], got float32\[3,4\]/);
  });
});
