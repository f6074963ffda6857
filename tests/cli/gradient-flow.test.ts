import { describe, expect, test } from 'vitest';
import * as autograd from '@seqgrad/autograd';
import { type FloatDType, Generator, type Tensor, add, chunk, linear, mul, select, sigmoid, sub, tanh, unbind, zeros } from '@seqgrad/autograd';
import { RNNBase, Recurrent, RecurrentCell, type HiddenState, init } from '@seqgrad/layers';
import { vectorNorm } from '@seqgrad/optim';
import { type CellFactory, type ModelConfig, SequenceModel, buildModel } from 'seqgrad/model';
import { type Task, makeTask } from 'seqgrad/tasks';

/**
 * The CLI's gradient-flow probe (the report's heatmap) measures ‖dL/dh_t‖ through scan. The
 * reference is the loop it replaced, kept here: the cell stepped by hand with every h_t kept
 * and autograd asked for the gradient of each.
 */
function loopFlow(model: SequenceModel, input: Tensor, loss: (out: Tensor) => Tensor): number[] {
  const rnn = model.rnn;
  const cell = rnn instanceof Recurrent ? rnn.cell : (rnn as RNNBase).cell();
  const x = model.embedding ? model.embedding.forward(input).detach() : input;
  const [B, T] = x.shape as [number, number];
  let s = cell.initialState(B);
  const hs: Tensor[] = [];
  for (const xt of unbind(x, 1)) {
    s = cell.step(xt, s);
    hs.push(s.h);
  }
  const seq = autograd.stack(hs, 1);
  const out = model.head.forward(model.config.readout === 'last' ? select(seq, 1, T - 1) : seq);
  const grads = autograd.grad([loss(out)], hs, { allowUnused: true });
  return grads.map((g) => (g ? vectorNorm(g.data) : 0));
}

/** A user's cell: the minimal gated unit (Zhou et al. 2016), one gate f for both roles. */
class MGUCell extends RecurrentCell<HiddenState> {
  readonly stateSizes = { h: this.hiddenSize };
  readonly weightIh: Tensor;
  readonly weightHh: Tensor;
  constructor(inputSize: number, hiddenSize: number, opts: { dtype?: FloatDType; generator?: Generator } = {}) {
    super(inputSize, hiddenSize, opts);
    this.weightIh = this.registerParameter('weight_ih', zeros([2 * hiddenSize, inputSize], { dtype: this.dtype }));
    this.weightHh = this.registerParameter('weight_hh', zeros([2 * hiddenSize, hiddenSize], { dtype: this.dtype }));
    this.resetParameters(opts.generator);
  }
  override resetParameters(generator?: Generator): void {
    const k = 1 / Math.sqrt(this.hiddenSize);
    for (const t of [this.weightIh, this.weightHh]) init.uniform(t, -k, k, { generator });
  }
  step(x: Tensor, { h }: HiddenState): HiddenState {
    const [xf, xn] = chunk(linear(x, this.weightIh), 2, -1) as [Tensor, Tensor];
    const [hf, hn] = chunk(this.weightHh, 2, 0) as [Tensor, Tensor];
    const f = sigmoid(add(xf, linear(h, hf)));
    const n = tanh(add(xn, linear(mul(f, h), hn)));
    return { h: add(h, mul(f, sub(n, h))) };
  }
}
const mgu: CellFactory = (i, h, opts) => new MGUCell(i, h, opts);

function setup(taskName: 'adding' | 'charlm', cell: string, factory?: CellFactory): { model: SequenceModel; task: Task; input: Tensor; loss: (out: Tensor) => Tensor } {
  const task = makeTask(taskName, { seqLen: 12 });
  const config: ModelConfig = {
    cell, hidden: 6, layers: 1, bidirectional: false, inputKind: task.inputKind, inputSize: task.inputSize,
    outputSize: task.outputSize, readout: task.readout, embed: 5, forgetBias: cell === 'lstm' ? 1 : undefined,
  };
  const model = buildModel(config, 3, factory);
  const batch = task.batch(4, new Generator(8));
  return { model, task, input: batch.input, loss: (out) => task.evaluate(out, batch).loss };
}

describe('SequenceModel.gradientFlow', () => {
  const cases: [string, 'adding' | 'charlm', CellFactory | undefined][] = [
    ['rnn', 'adding', undefined], ['lstm', 'adding', undefined], ['gru', 'adding', undefined],
    ['rnn', 'charlm', undefined], ['lstm', 'charlm', undefined], ['gru', 'charlm', undefined],
    ['mgu', 'adding', mgu], ['mgu', 'charlm', mgu],
  ];
  test.each(cases)('SequenceModel.gradientFlow: the norms of dL/dh_t through scan equal the per-step loop (%s, %s, float32)', (cell, taskName, factory) => {
    const { model, input, loss } = setup(taskName, cell, factory);
    const got = model.gradientFlow(input, loss)!;
    const want = loopFlow(model, input, loss);
    expect(got).toHaveLength(12);
    for (let t = 0; t < 12; t++) {
      expect(want[t]).toBeGreaterThan(0);
      // float32: the compiled plan sums the products in another order than the op-by-op loop.
      expect(Math.abs(got[t]! - want[t]!) / want[t]!).toBeLessThan(1e-5);
    }
  });

  test('SequenceModel.gradientFlow: null for a bidirectional or stacked model', () => {
    const task = makeTask('adding', { seqLen: 5 });
    const base = { cell: 'gru', hidden: 4, inputKind: task.inputKind, inputSize: task.inputSize, outputSize: task.outputSize, readout: task.readout, embed: 4 } as const;
    const batch = task.batch(2, new Generator(1));
    const loss = (out: Tensor) => task.evaluate(out, batch).loss;
    expect(buildModel({ ...base, layers: 2, bidirectional: false }, 1).gradientFlow(batch.input, loss)).toBeNull();
    expect(buildModel({ ...base, layers: 1, bidirectional: true }, 1).gradientFlow(batch.input, loss)).toBeNull();
  });
});
