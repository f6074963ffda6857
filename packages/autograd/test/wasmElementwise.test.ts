import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { afterEach, describe, expect, test } from 'vitest';
import { Tensor, add, div, kernels, mul, sub } from '@seqgrad/autograd';

/**
 * The WebAssembly SIMD elementwise kernel (add, mul, div; float32 and float64; equal
 * lengths, one single value, or a row repeated along the leading axes) against the TypeScript loops it replaces: bit for bit, over
 * lengths around the vector width, the threshold and the chunk size, with NaN, ±Infinity, ±0
 * and subnormals among the values.
 */

afterEach(() => {
  kernels.setWasmElementwise(true);
});

const OPS = ['add', 'mul', 'div'] as const;
type Op = (typeof OPS)[number];

const special = [NaN, Infinity, -Infinity, 0, -0, 1e-40, -3e-39, 5e-310, 1, -1];

function values(n: number, f64: boolean, seed: number): Float32Array | Float64Array {
  const out = f64 ? new Float64Array(n) : new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s % 17 === 0 ? special[s % special.length]! : (s / 2 ** 32 - 0.5) * 2 ** ((s >>> 8) % 40 - 20);
  }
  return out;
}

/** out = a op b with the WebAssembly kernel on or off. */
function run(op: Op, a: Float32Array | Float64Array, b: Float32Array | Float64Array, n: number, wasm: boolean) {
  kernels.setWasmElementwise(wasm);
  const out = a instanceof Float64Array ? new Float64Array(n) : new Float32Array(n);
  kernels.binaryBroadcast(op, out, [n], a, a.length === 1 ? [1] : [n], b, b.length === 1 ? [1] : [n]);
  return out;
}

/** Equal bit patterns, NaN payloads aside (every NaN counts as one). */
function sameBits(x: ArrayLike<number>, y: ArrayLike<number>): boolean {
  for (let i = 0; i < x.length; i++) {
    if (Number.isNaN(x[i]!) && Number.isNaN(y[i]!)) continue;
    if (!Object.is(x[i], y[i])) return false;
  }
  return true;
}

describe('WebAssembly elementwise kernel', () => {
  test('it is on in this runtime (Node 20 has WebAssembly SIMD)', () => {
    expect(kernels.setWasmElementwise(true)).toBe(true);
  });

  test.each(OPS)('%s: bit-identical to the TypeScript loop for equal lengths, a value on either side, float32 and float64', (op) => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 40_000 }), fc.boolean(), fc.constantFrom('vv', 'vs', 'sv'), fc.integer(),
      (n, f64, kind, seed) => {
        const a = values(kind === 'sv' ? 1 : n, f64, seed);
        const b = values(kind === 'vs' ? 1 : n, f64, seed + 1);
        expect(sameBits(run(op, a, b, n, true), run(op, a, b, n, false))).toBe(true);
      },
    ));
  });

  test.each(OPS)('%s: bit-identical for a row repeated along the leading axes (a bias), float32 and float64', (op) => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 200 }), fc.boolean(), fc.boolean(), fc.integer(),
      (rows, mid, C, twoAxes, f64, seed) => {
        const outShape = [rows, mid, C];
        const bShape = twoAxes ? [mid, C] : [1, C];
        const n = rows * mid * C;
        const a = values(n, f64, seed);
        const b = values(bShape[0]! * C, f64, seed + 1);
        const results = [true, false].map((on) => {
          kernels.setWasmElementwise(on);
          const out = f64 ? new Float64Array(n) : new Float32Array(n);
          kernels.binaryBroadcast(op, out, outShape, a, outShape, b, bShape);
          return out;
        });
        expect(sameBits(results[0]!, results[1]!)).toBe(true);
      },
    ));
  });

  test('a row longer than a chunk (20,000 float32 values) is left to the TypeScript loop, with the same result', () => {
    const a = values(40_000, false, 1);
    const b = values(20_000, false, 2);
    const results = [true, false].map((on) => {
      kernels.setWasmElementwise(on);
      const out = new Float32Array(40_000);
      kernels.binaryBroadcast('add', out, [2, 20_000], a, [2, 20_000], b, [20_000]);
      return out;
    });
    expect(sameBits(results[0]!, results[1]!)).toBe(true);
  });

  test('sum over leading axes (a broadcast gradient): bit-identical to the TypeScript reduction, float32 and float64', () => {
    fc.assert(fc.property(
      fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 2, maxLength: 4 }), fc.integer({ min: 1, max: 3 }), fc.boolean(), fc.integer(),
      (shape, lead, f64, seed) => {
        const k = Math.min(lead, shape.length - 1);
        const reduced = shape.map((_, d) => d < k);
        const n = shape.reduce((a, b) => a * b, 1);
        const x = values(n, f64, seed);
        const outLen = shape.slice(k).reduce((a, b) => a * b, 1);
        const results = [true, false].map((on) => {
          kernels.setWasmElementwise(on);
          const out = f64 ? new Float64Array(outLen) : new Float32Array(outLen);
          kernels.reduce('sum', out, x, shape, reduced);
          return out;
        });
        expect(sameBits(results[0]!, results[1]!)).toBe(true);
      },
    ));
  });

  test('sum over leading axes with rows wider than a chunk, or a 20,000-row column, matches too', () => {
    for (const shape of [[3, 20_000], [20_000, 1], [700, 33]]) {
      const n = shape[0]! * shape[1]!;
      const x = values(n, false, 5);
      const results = [true, false].map((on) => {
        kernels.setWasmElementwise(on);
        const out = new Float32Array(shape[1]!);
        kernels.reduce('sum', out, x, shape, [true, false]);
        return out;
      });
      expect(sameBits(results[0]!, results[1]!), shape.join('x')).toBe(true);
    }
  });

  test('lengths at the edges: below the threshold, vector tails, exactly one chunk and one past it', () => {
    for (const n of [1, 3, 255, 256, 257, 259, 16383, 16384, 16385, 8192, 8193, 32769]) {
      for (const f64 of [false, true]) {
        for (const op of OPS) {
          const a = values(n, f64, n);
          const b = values(n, f64, n + 7);
          expect(sameBits(run(op, a, b, n, true), run(op, a, b, n, false)), `${op} n=${n} f64=${f64}`).toBe(true);
        }
      }
    }
  });

  test('through the tensor ops: float32 add, sub (add of neg), mul, div of equal shapes and with a number', () => {
    const a = new Tensor(values(5000, false, 3), [50, 100]);
    const b = new Tensor(values(5000, false, 4), [50, 100]);
    const results = (on: boolean) => {
      kernels.setWasmElementwise(on);
      return [add(a, b), sub(a, b), mul(a, b), div(a, b), add(a, 2.5), sub(2.5, a), div(1, b)].map((t) => t.data);
    };
    const on = results(true);
    const off = results(false);
    on.forEach((d, i) => expect(sameBits(d, off[i]!), `result ${i}`).toBe(true));
  });

  test('mixed float32/float64 arrays and int32 stay on the TypeScript path (and give the same answer)', () => {
    const a = values(1000, false, 1);
    const b = values(1000, true, 2);
    const out = new Float64Array(1000);
    kernels.binaryBroadcast('add', out, [1000], a, [1000], b, [1000]);
    for (let i = 0; i < 1000; i++) expect(Object.is(out[i], a[i]! + b[i]!) || Number.isNaN(out[i]!)).toBe(true);
  });

  test('elementwiseBytes.generated.ts: assembled from the current elementwise.wat (else run pnpm build:wasm)', () => {
    const source = readFileSync(new URL('../src/wasm/elementwise.wat', import.meta.url), 'utf8');
    const generated = readFileSync(new URL('../src/wasm/elementwiseBytes.generated.ts', import.meta.url), 'utf8');
    const recorded = /ELEMENTWISE_WAT_SHA256 = '([0-9a-f]{64})'/.exec(generated)?.[1];
    expect(recorded).toBe(createHash('sha256').update(source).digest('hex'));
  });
});
