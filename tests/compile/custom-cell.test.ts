import { describe, expect, test } from 'vitest';
import {
  type FloatDType, Generator, type Tensor, add, chunk, linear, mul, randn, sigmoid, sub, sum, tanh, zeros, grad,
} from '@seqgrad/autograd';
import { Bidirectional, Recurrent, RecurrentCell, init } from '@seqgrad/layers';

/**
 * A user's cell written against the public API, as docs/custom-cells.md describes it: it
 * overrides resetParameters with `override` (this file is type-checked by `tsc -p tests`
 * under noImplicitOverride), Bidirectional re-initialises its copy through that override, and
 * Recurrent runs it compiled with the op-by-op results.
 */

type S = { h: Tensor; c: Tensor };

/** LSTM with coupled input and forget gates (f = 1 − i): gate blocks i, g, o. */
class CoupledLSTMCell extends RecurrentCell<S> {
  readonly stateSizes = { h: this.hiddenSize, c: this.hiddenSize };
  readonly weightIh: Tensor;
  readonly weightHh: Tensor;
  readonly bias: Tensor;
  resets = 0;

  constructor(inputSize: number, hiddenSize: number, opts: { dtype?: FloatDType; generator?: Generator } = {}) {
    super(inputSize, hiddenSize, opts);
    const H = hiddenSize;
    this.weightIh = this.registerParameter('weight_ih', zeros([3 * H, inputSize], { dtype: this.dtype }));
    this.weightHh = this.registerParameter('weight_hh', zeros([3 * H, H], { dtype: this.dtype }));
    this.bias = this.registerParameter('bias', zeros([3 * H], { dtype: this.dtype }));
    this.resetParameters(opts.generator);
  }

  override resetParameters(generator?: Generator): void {
    this.resets++;
    const k = 1 / Math.sqrt(this.hiddenSize);
    for (const t of [this.weightIh, this.weightHh, this.bias]) init.uniform(t, -k, k, { generator });
  }

  step(x: Tensor, { h, c }: S): S {
    const [ai, ag, ao] = chunk(add(linear(x, this.weightIh, this.bias), linear(h, this.weightHh)), 3, -1) as [Tensor, Tensor, Tensor];
    const i = sigmoid(ai);
    const cNext = add(c, mul(i, sub(tanh(ag), c)));
    return { h: mul(sigmoid(ao), tanh(cNext)), c: cNext };
  }
}

describe('RecurrentCell', () => {
  test('RecurrentCell: a user cell overriding resetParameters is re-initialised through it by Bidirectional', () => {
    const cell = new CoupledLSTMCell(3, 4, { generator: new Generator(1) });
    const bi = new Bidirectional(cell);
    const copy = bi.backwardLayer.cell as CoupledLSTMCell;
    expect(copy.resets).toBe(2); // once in its constructor's copy, once by Bidirectional
    expect(Array.from(copy.weightHh.data)).not.toEqual(Array.from(cell.weightHh.data));
  });

  test('Recurrent: a user cell runs compiled, with the op-by-op outputs and gradients (float64, lengths)', () => {
    const cell = new CoupledLSTMCell(3, 5, { dtype: 'float64', generator: new Generator(2) });
    const gen = new Generator(3);
    const x = randn([3, 6, 3], { dtype: 'float64', generator: gen, requiresGrad: true });
    const lengths = [6, 2, 4];
    const run = (compile: boolean) => {
      const layer = new Recurrent(cell, { compile });
      const r = layer.forward(x, undefined, { lengths });
      const loss = add(sum(mul(r.output, r.output)), sum(r.state.c));
      return { explained: layer.explain(x, undefined, { lengths }), out: r.output, grads: grad(loss, [x, ...cell.parameters()]) };
    };
    const a = run(true);
    const b = run(false);
    expect(a.explained.compiled, a.explained.text).toBe(true);
    expect(a.explained.plan).toMatchObject({ hoistedGemms: 1, deferredGemms: 1 });
    expect(a.out.gradFn?.name).toBe('scan');
    const worst = [a.out, ...a.grads].reduce((m, t, i) => {
      const e = [b.out, ...b.grads][i]!;
      return Math.max(m, ...Array.from(t!.data, (v, j) => Math.abs(v - e.data[j]!)));
    }, 0);
    expect(worst).toBeLessThan(1e-12);
  });
});
