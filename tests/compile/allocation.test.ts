import { describe, expect, test } from 'vitest';
import { Generator, type Tensor, randn } from '@seqgrad/autograd';
import { LayerNormLSTMCell, Recurrent } from '@seqgrad/layers';

/**
 * What a compiled training step allocates, counted by wrapping the typed-array constructors
 * (every array the library makes goes through `new Float32Array(…)`), so the count does not
 * depend on timing or on when the garbage collector runs.
 */
function countAllocations(fn: () => void): { arrays: number; bytes: number } {
  const g = globalThis as unknown as Record<string, unknown>;
  const saved = { Float32Array, Float64Array };
  let arrays = 0;
  let bytes = 0;
  const wrap = <C extends Float32ArrayConstructor | Float64ArrayConstructor>(ctor: C): C => new Proxy(ctor, {
    construct(target, args, newTarget) {
      const made = Reflect.construct(target, args, newTarget) as Float32Array | Float64Array;
      arrays++;
      bytes += made.byteLength;
      return made;
    },
  });
  g.Float32Array = wrap(Float32Array);
  g.Float64Array = wrap(Float64Array);
  try {
    fn();
  } finally {
    g.Float32Array = saved.Float32Array;
    g.Float64Array = saved.Float64Array;
  }
  return { arrays, bytes };
}

function trainingStep(layer: Recurrent<{ h: Tensor; c: Tensor }>, x: Tensor): () => void {
  return () => {
    for (const p of layer.parameters()) p.grad = null;
    x.grad = null;
    layer.forward(x).output.sum().backward();
  };
}

describe('compiled scan allocation', () => {
  test('scan: a compiled training step makes as many arrays at 4T as at T, and its bytes grow only with x, the output and their gradients', () => {
    const B = 3;
    const I = 4;
    const H = 5;
    const layer = new Recurrent(new LayerNormLSTMCell(I, H, { generator: new Generator(1) }));
    const measure = (T: number) => {
      const x = randn([B, T, I], { generator: new Generator(2), requiresGrad: true });
      expect(layer.explain(x).compiled).toBe(true);
      const step = trainingStep(layer, x);
      // The first calls trace, build the plan and allocate its buffers; later ones reuse them.
      for (let i = 0; i < 3; i++) step();
      return countAllocations(step);
    };
    const T = 6;
    const short = measure(T);
    const long = measure(4 * T);
    expect(short.arrays).toBeGreaterThan(0);
    expect(long.arrays).toBe(short.arrays);
    // Arrays of T·B rows a step must make anyway: x's gradient (I), the output (H), and the
    // output's gradient from sum (H). Everything else is the same size at both lengths.
    const perRow = 4 * B * (I + 2 * H);
    expect(long.bytes - short.bytes).toBe(3 * T * perRow);
  });
});
