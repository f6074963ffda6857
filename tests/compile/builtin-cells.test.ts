import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { maxAbs } from '../setup/allclose.js';
import { Generator, type Tensor, add, grad, mul, randn, sum, tensor, zeros } from '@seqgrad/autograd';
import {
  Bidirectional, GRU, GRUCell, LSTM, LSTMCell, LayerNormLSTMCell, RNN, RNNCell, Recurrent, type RecurrentCell, type RNNBase, type RNNState,
  type SequenceResult,
} from '@seqgrad/layers';
import { VARIANTS, type Case, caseArb, handRun, maxRelErr } from '../bptt/reference.js';

/**
 * The built-in cells compiled by scan, the same op by op, and the hand-derived BPTT of
 * @seqgrad/layers/bptt (the independent reference) agree in float64: outputs, final states,
 * and the gradients of x, h0, c0 and every parameter, over random shapes, biases, lengths,
 * directions, projections and both GRU reset placements.
 */

/** 1e-12 of max(1, max |expected|): compiled and op by op differ only in the order of sums. */
const sumOrderTol = (expected: ArrayLike<number>) => ({ rtol: 0, atol: 1e-12 * Math.max(1, maxAbs(expected)) });

type Direction = SequenceResult<RNNState>;
type DirectionArgs = { x: Tensor; h0: Tensor; c0: Tensor | null; p: RNNBase['params'][number][number]; reverse: boolean; lengths: Int32Array | null; allCells: boolean };

const f64 = (a: Float64Array | null, shape: number[]) => tensor(a ?? new Float64Array(shape.reduce((p, q) => p * q, 1)), { dtype: 'float64', shape });

/**
 * One layer and direction of RNN, LSTM or GRU on the composed path, with the case's values;
 * a weighted sum of what it returns (the case's upstream gradients as weights), and the
 * gradients in the hand BPTT's order.
 */
function layerRun(c: Case, compile: boolean) {
  const { variant: v, B, T, I, H, P } = c;
  const S = P || H;
  const bias = c.values.biasIh !== null;
  const common = { dtype: 'float64' as const, impl: 'composed' as const, compile, bias };
  const layer: RNNBase =
    v.family === 'rnn' ? new RNN(I, H, { ...common, nonlinearity: v.nonlinearity })
      : v.family === 'lstm' ? new LSTM(I, H, { ...common, projSize: P })
        : new GRU(I, H, { ...common, resetAfter: v.resetAfter });
  const p = layer.params[0]![0]!;
  for (const k of ['weightIh', 'weightHh', 'biasIh', 'biasHh', 'weightHr'] as const) if (p[k]) p[k]!.data.set(c.values[k]!);
  const x = f64(c.values.x, [B, T, I]);
  const h0 = f64(c.values.h0, [B, S]);
  const c0 = v.family === 'lstm' ? f64(c.values.c0, [B, H]) : null;
  for (const t of [x, h0, ...(c0 ? [c0] : [])]) t.requiresGrad = true;
  const args: DirectionArgs = { x, h0, c0, p, reverse: c.reverse, lengths: c.lengths ?? null, allCells: Boolean(c.dCells) };
  const r = (layer as unknown as { composedDirection(a: DirectionArgs): Direction }).composedDirection(args);
  let loss = zeros([], { dtype: 'float64' });
  if (c.dOutput) loss = add(loss, sum(mul(r.output, f64(c.dOutput, [B, T, S]))));
  if (c.dhT) loss = add(loss, sum(mul(r.state.h, f64(c.dhT, [B, S]))));
  if (c.dcT && r.state.c) loss = add(loss, sum(mul(r.state.c, f64(c.dcT, [B, H]))));
  const cells = r.sequences?.c;
  if (c.dCells && cells) loss = add(loss, sum(mul(cells, f64(c.dCells, [B, T, H]))));
  const inputs = [x, h0, ...(c0 ? [c0] : []), p.weightIh, p.weightHh, ...(bias ? [p.biasIh!, p.biasHh!] : []), ...(P ? [p.weightHr!] : [])];
  const grads = loss.requiresGrad ? grad(loss, inputs, { allowUnused: true }) : inputs.map(() => null);
  return { r, grads: grads.map((g, i) => (g ? g.data : new Float64Array(inputs[i]!.size))) };
}

/** The hand BPTT's gradients in the order of layerRun's inputs (zeros for an initial state it was not given). */
function handGrads(c: Case, hand: ReturnType<typeof handRun>): ArrayLike<number>[] {
  const g = hand.grads;
  const S = c.P || c.H;
  const lstm = c.variant.family === 'lstm';
  return [g.x!, g.h0 ?? new Float64Array(c.B * S), ...(lstm ? [g.c0 ?? new Float64Array(c.B * c.H)] : []), g.weightIh!, g.weightHh!,
    ...(c.values.biasIh ? [g.biasIh!, g.biasHh!] : []), ...(c.P ? [g.weightHr!] : [])];
}

describe.each(VARIANTS)('compiled built-in $name', (variant) => {
  test(`scan: the compiled ${variant.name} direction equals op by op to 1e-12 and the hand-derived BPTT to 1e-9 (float64)`, () => {
    fc.assert(
      fc.property(caseArb(variant, { maxT: 6 }), (c) => {
        const hand = handRun(c);
        const compiled = layerRun(c, true);
        const eager = layerRun(c, false);
        // One autograd node for the whole sequence when compiled, one per op otherwise.
        expect(compiled.r.output.gradFn?.name).toBe('scan');
        expect(eager.r.output.gradFn?.name).not.toBe('scan');
        expect(compiled.r.output.data, 'output vs op by op').toBeAllclose(eager.r.output.data, sumOrderTol(eager.r.output.data));
        expect(compiled.r.state.h.data, 'h vs op by op').toBeAllclose(eager.r.state.h.data, sumOrderTol(eager.r.state.h.data));
        expect(maxRelErr(compiled.r.output.data, hand.output), 'output vs hand').toBeLessThan(1e-9);
        expect(maxRelErr(compiled.r.state.h.data, hand.hT), 'h vs hand').toBeLessThan(1e-9);
        if (hand.cT) expect(maxRelErr(compiled.r.state.c!.data, hand.cT), 'c vs hand').toBeLessThan(1e-9);
        // A relu pre-activation within rounding of 0 may take either side of the kink (sums in different orders).
        if (variant.nonlinearity === 'relu') return;
        const want = handGrads(c, hand);
        compiled.grads.forEach((g, i) => {
          expect(g, `gradient ${i} compiled vs op by op`).toBeAllclose(eager.grads[i]!, sumOrderTol(eager.grads[i]!));
          expect(maxRelErr(g, want[i]!), `gradient ${i} compiled vs hand`).toBeLessThan(1e-9);
        });
      }),
    );
  });
});

describe('compiled cells through Recurrent', () => {
  const cells: [string, (g: Generator) => RecurrentCell][] = [
    ['RNNCell', (g) => new RNNCell(3, 4, { dtype: 'float64', generator: g })],
    ['RNNCell relu', (g) => new RNNCell(3, 4, { dtype: 'float64', generator: g, nonlinearity: 'relu' })],
    ['LSTMCell', (g) => new LSTMCell(3, 4, { dtype: 'float64', generator: g })],
    ['GRUCell', (g) => new GRUCell(3, 4, { dtype: 'float64', generator: g })],
    ['GRUCell resetAfter false', (g) => new GRUCell(3, 4, { dtype: 'float64', generator: g, resetAfter: false })],
    ['LayerNormLSTMCell', (g) => new LayerNormLSTMCell(3, 4, { dtype: 'float64', generator: g })],
  ];
  for (const [name, make] of cells) {
    test(`Recurrent(${name}): compiled and op by op agree to 1e-12 in float64, with lengths and reverse`, () => {
      fc.assert(
        fc.property(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 6 }), fc.boolean(), fc.nat(1000), (B, T, reverse, seed) => {
          const gen = new Generator(seed);
          const lengths = Array.from({ length: B }, () => 1 + Math.floor(gen.uniform() * T));
          const results = [true, false].map((compile) => {
            const cell = make(new Generator(seed));
            const layer = new Recurrent(cell, { reverse, compile });
            const g2 = new Generator(seed + 1);
            const x = randn([B, T, 3], { dtype: 'float64', generator: g2, requiresGrad: true });
            const init = cell.initialState(B) as Record<string, Tensor>;
            const state = Object.fromEntries(Object.keys(init).map((k) => [k, randn([B, 4], { dtype: 'float64', generator: g2, requiresGrad: true })]));
            const r = layer.forward(x, state as never, { lengths });
            const w = randn([B, T, 4], { dtype: 'float64', generator: g2 });
            const loss = add(sum(mul(r.output, w)), sum(mul(r.state.h, r.state.h)));
            const inputs = [x, ...Object.values(state), ...cell.parameters()];
            return { r, grads: grad(loss, inputs, { allowUnused: true }), explained: layer.explain(x, state as never, { lengths }) };
          });
          const [a, b] = results as [typeof results[0], typeof results[0]];
          expect(a.explained.compiled, a.explained.text).toBe(true);
          expect(b.explained.compiled).toBe(false);
          expect(a.r.output.data, 'output').toBeAllclose(b.r.output.data, sumOrderTol(b.r.output.data));
          a.grads.forEach((g, i) => {
            const e = b.grads[i];
            const zero = new Float64Array((g ?? e)!.size);
            expect(g ? g.data : zero, `gradient ${i}`).toBeAllclose(e ? e.data : zero, sumOrderTol(e ? e.data : zero));
          });
        }),
      );
    });
  }
});

test('Bidirectional(LayerNormLSTMCell): compiled and op by op agree to 1e-12 in float64, with lengths', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 5 }), fc.nat(1000), (B, T, seed) => {
      const gen = new Generator(seed);
      const lengths = Array.from({ length: B }, () => 1 + Math.floor(gen.uniform() * T));
      const x = randn([B, T, 3], { dtype: 'float64', generator: gen });
      // One module run both ways (its backward cell is a re-initialised copy).
      const bi = new Bidirectional(new LayerNormLSTMCell(3, 4, { dtype: 'float64', generator: new Generator(seed) }));
      const run = (compile: boolean) => {
        bi.forwardLayer.compile = compile;
        bi.backwardLayer.compile = compile;
        const xg = x.clone().detach();
        xg.requiresGrad = true;
        const r = bi.forward(xg, undefined, { lengths });
        const loss = add(sum(mul(r.output, r.output)), sum(r.state.backward.c));
        return [r.output, ...grad(loss, [xg, ...bi.parameters()], { allowUnused: true })];
      };
      const a = run(true);
      const b = run(false);
      a.forEach((t, i) => {
        const zero = new Float64Array((t ?? b[i])!.size);
        expect(t ? t.data : zero, `result ${i}`).toBeAllclose(b[i] ? b[i]!.data : zero, sumOrderTol(b[i] ? b[i]!.data : zero));
      });
    }),
  );
});
