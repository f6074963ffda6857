import { Generator, type Tensor, grad, randn, sum } from '@seqgrad/autograd';
import { GRU, LSTM, RNN, truncatedBptt } from '@seqgrad/layers';
import { describe, expect, test } from 'vitest';

const f64 = { dtype: 'float64' as const };
/** float64 results that must agree to 1e-12 absolute. */
const TOL = { atol: 1e-12, rtol: 0 };

describe.each(['fused', 'composed'] as const)('RNN layers (%s)', (impl) => {
  test('shapes: batchFirst (default), batchFirst false, unbatched, bidirectional, projSize', () => {
    const lstm = new LSTM(3, 5, { impl, numLayers: 2, bidirectional: true, projSize: 2 });
    const r = lstm.forward(randn([4, 7, 3]));
    expect([r.output.shape, r.state.h.shape, r.state.c.shape]).toEqual([[4, 7, 4], [4, 4, 2], [4, 4, 5]]);
    const gru = new GRU(3, 5, { impl, batchFirst: false });
    const g = gru.forward(randn([7, 4, 3]));
    expect([g.output.shape, g.state.h.shape]).toEqual([[7, 4, 5], [1, 4, 5]]);
    const rnn = new RNN(3, 5, { impl, numLayers: 3 });
    const u = rnn.forward(randn([7, 3]));
    expect([u.output.shape, u.state.h.shape]).toEqual([[7, 5], [3, 5]]);
    expect(lstm.forward(randn([7, 3])).state.c.shape).toEqual([4, 5]);
  });

  test('batchFirst false gives the transposed result of batchFirst true', () => {
    const a = new LSTM(2, 3, { ...f64, impl, generator: new Generator(1) });
    const b = new LSTM(2, 3, { ...f64, impl, batchFirst: false, generator: new Generator(1) });
    const x = randn([2, 4, 2], f64);
    const ra = a.forward(x, undefined, { lengths: [4, 2] });
    const rb = b.forward(x.transpose(0, 1), undefined, { lengths: [4, 2] });
    expect(rb.output.transpose(0, 1)).toBeAllclose(ra.output, TOL);
    expect(rb.state.h).toBeAllclose(ra.state.h, TOL);
  });

  test('unbatched (T, I) equals a batch of one', () => {
    const gru = new GRU(2, 3, { ...f64, impl, bidirectional: true });
    const x = randn([5, 2], f64);
    const h0 = randn([2, 3], f64);
    const u = gru.forward(x, h0);
    const b = gru.forward(x.reshape([1, 5, 2]), h0.reshape([2, 1, 3]));
    expect(u.output).toBeAllclose(b.output.reshape([5, 6]), TOL);
    expect(u.state.h).toBeAllclose(b.state.h.reshape([2, 3]), TOL);
  });

  test('lengths: outputs past each length are zero and h is taken at the last valid step', () => {
    const rnn = new RNN(2, 3, { ...f64, impl });
    const x = randn([2, 5, 2], f64);
    const full = rnn.forward(x.narrow(0, 1, 1).narrow(1, 0, 3));
    const r = rnn.forward(x, undefined, { lengths: new Int32Array([5, 3]) });
    expect(r.state.h.select(1, 1)).toBeAllclose(full.state.h.select(1, 0), TOL);
    expect(Array.from(r.output.select(0, 1).narrow(0, 3, 2).data)).toEqual([0, 0, 0, 0, 0, 0]);
    expect(r.output.select(0, 1).narrow(0, 0, 3)).toBeAllclose(full.output.select(0, 0), TOL);
  });

  test('returnAllStates: sequences.c holds c_t at every step; its last step is state.c', () => {
    const lstm = new LSTM(2, 3, { ...f64, impl });
    const r = lstm.forward(randn([2, 4, 2], f64), undefined, { returnAllStates: true });
    expect(r.sequences!.c!.shape).toEqual([2, 4, 3]);
    expect(r.sequences!.c!.select(1, 3)).toBeAllclose(r.state.c.select(0, 0), TOL);
    const bi = new LSTM(2, 3, { ...f64, impl, bidirectional: true }).forward(randn([2, 4, 2], f64), undefined, { returnAllStates: true });
    expect(bi.sequences!.c!.shape).toEqual([2, 4, 6]);
    expect(bi.sequences!.c!.select(1, 0).narrow(1, 3, 3)).toBeAllclose(bi.state.c.select(0, 1), TOL);
  });

  test('bad input: a clear SeqgradError naming the op, the argument and the shapes', () => {
    const lstm = new LSTM(3, 4, { impl, numLayers: 2 });
    expect(() => lstm.forward(randn([2, 5, 4]))).toThrow('LSTM.forward: x[2,5,4] must be (B, T, 3) or unbatched (T, 3)');
    expect(() => lstm.forward(randn([2, 3]).reshape([6]))).toThrow('LSTM.forward: x[6] must be');
    expect(() => lstm.forward(randn([2, 5, 3]), { h: randn([1, 2, 4]), c: randn([2, 2, 4]) }))
      .toThrow('LSTM.forward: state.h[1,2,4] must have shape [2,2,4]; expected { h, c } with h[2,2,4], c[2,2,4]');
    expect(() => lstm.forward(randn([2, 5, 3]), { h: randn([2, 2, 4]) } as never)).toThrow('LSTM.forward: state.c is missing; expected { h, c }');
    expect(() => lstm.forward(randn([2, 5, 3]), undefined, { lengths: [0, 5] })).toThrow('LSTM.forward: lengths[0]=0 is out of range: lengths must be integers in [1, T=5]');
    expect(() => lstm.forward(randn([2, 5, 3]), undefined, { lengths: [5, 2.5] })).toThrow('lengths[1]=2.5 is out of range');
    expect(() => lstm.forward(randn([2, 5, 3]), undefined, { lengths: [5, 5, 5] })).toThrow('lengths has 3 entries but the batch has B=2');
    expect(() => lstm.forward(randn([2, 5, 3], f64))).toThrow('LSTM.forward: x[2,5,3] has dtype float64 but the parameters are float32');
    expect(() => new GRU(3, 4, { impl }).forward(randn([2, 5, 3]), randn([1, 2, 4], f64))).toThrow('GRU.forward: state.h[1,2,4] has dtype float64');
    expect(() => lstm.forward(randn([2, 0, 3]))).toThrow('LSTM.forward: x[2,0,3] has no time steps');
    expect(() => lstm.loadStateDict({ ...lstm.stateDict(), weight_ih_l0: randn([16, 4]) })).toThrow(
      "size mismatch for 'weight_ih_l0': copying a param with shape [16,4], the shape in the current model is [16,3]",
    );
    const sd = lstm.stateDict();
    sd.weight_hh_l2 = sd.weight_hh_l1!;
    expect(() => lstm.loadStateDict(sd)).toThrow("unexpected key(s): 'weight_hh_l2'");
  });

  test('bad options: named with their value', () => {
    expect(() => new RNN(3, 4, { impl, nonlinearity: 'sigmoid' as never })).toThrow("RNN: nonlinearity must be 'tanh' or 'relu', got 'sigmoid'");
    expect(() => new LSTM(3, 4, { impl, projSize: 4 })).toThrow('LSTM: projSize=4 must be smaller than hiddenSize=4');
    expect(() => new GRU(3, 0, { impl })).toThrow('GRU: hiddenSize must be a positive integer, got 0');
    expect(() => new GRU(3, 2, { impl: 'cudnn' as never })).toThrow("impl must be 'fused' or 'composed'");
  });

  test('bias false: no bias parameters', () => {
    expect(new GRU(2, 3, { impl, bias: false }).namedParameters().map(([n]) => n)).toEqual(['weight_ih_l0', 'weight_hh_l0']);
  });
});

describe('RNN layers: fused vs composed specifics', () => {
  test('double backward: composed supports it, fused throws a clear error', () => {
    for (const impl of ['composed', 'fused'] as const) {
      const lstm = new LSTM(2, 3, { ...f64, impl });
      const x = randn([1, 3, 2], { ...f64, requiresGrad: true });
      const run = () => {
        const [dx] = grad(sum(lstm.forward(x).output.square()), [x], { createGraph: true });
        return grad(sum(dx!), [x])[0]!;
      };
      if (impl === 'composed') expect(run().isFinite()).toBe(true);
      else expect(run).toThrow(/^LSTM\(fused\): (double backward is not supported|this function is marked onceDifferentiable)/);
    }
  });

  test('returnAllStates with fused: same values and gradients as composed', () => {
    const a = new LSTM(2, 3, { ...f64, impl: 'fused', generator: new Generator(4) });
    const b = new LSTM(2, 3, { ...f64, impl: 'composed', generator: new Generator(4) });
    const x = randn([2, 3, 2], f64);
    expect(a.forward(x, undefined, { returnAllStates: true }).sequences!.c!).toBeAllclose(b.forward(x, undefined, { returnAllStates: true }).sequences!.c!, TOL);
  });
});

describe('truncatedBptt', () => {
  test('truncatedBptt: with k1 = k2 = T it is ordinary backprop through the whole sequence', () => {
    const lstm = new LSTM(2, 3, { ...f64, generator: new Generator(1) });
    const x = randn([2, 6, 2], f64);
    const { losses } = truncatedBptt(lstm, x, { k1: 6, loss: (out) => sum(out.square()) });
    expect(losses).toHaveLength(1);
    const g1 = lstm.parameters().map((p) => Array.from(p.grad!.data));
    lstm.zeroGrad();
    sum(lstm.forward(x).output.square()).backward();
    expect(lstm.parameters().map((p) => Array.from(p.grad!.data))).toEqual(g1);
  });

  test('truncatedBptt: k1 = k2 chunks carry the detached state, gradients stop at chunk boundaries', () => {
    const gru = new GRU(2, 3, { ...f64, generator: new Generator(2) });
    const x = randn([2, 7, 2], f64);
    const chunks: [number, number][] = [];
    const res = truncatedBptt(gru, x, { k1: 3, loss: (out, c) => (chunks.push([c.start, c.end]), sum(out)) });
    expect(chunks).toEqual([[0, 3], [3, 6], [6, 7]]);
    // Same thing by hand.
    const grads = gru.parameters().map((p) => Array.from(p.grad!.data));
    gru.zeroGrad();
    let h: Tensor | undefined;
    for (const [s, e] of chunks) {
      const r = gru.forward(x.narrow(1, s, e - s), h);
      sum(r.output).backward();
      h = r.state.h.detach();
    }
    gru.parameters().forEach((p, i) => p.grad!.data.forEach((v, k) => expect(v).toBeCloseTo(grads[i]![k]!, 12)));
    expect((res.state as { h: Tensor }).h).toBeAllclose(h!, TOL);
  });

  test('truncatedBptt: k2 > k1 re-runs the window, k2 < k1 backpropagates only the last k2 steps', () => {
    const rnn = new RNN(2, 3, { ...f64, generator: new Generator(3) });
    const x = randn([1, 8, 2], f64);
    const seen: number[] = [];
    truncatedBptt(rnn, x, { k1: 2, k2: 4, loss: (out) => (seen.push(out.shape[1]!), sum(out)) });
    expect(seen).toEqual([2, 2, 2, 2]);
    rnn.zeroGrad();
    // k2 = 1 < k1 = 4: only the last step of each chunk is differentiable.
    const r = truncatedBptt(rnn, x, { k1: 4, k2: 1, loss: (out) => sum(out) });
    expect(r.losses).toHaveLength(2);
    expect(() => truncatedBptt(rnn, x, { k1: 0, loss: () => null })).toThrow('truncatedBptt: k1 must be a positive integer, got 0');
  });
});
