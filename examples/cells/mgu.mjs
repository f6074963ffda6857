// The minimal gated unit (Zhou, Wu, Zhang & Zhou 2016): one gate, f, plays both GRU gates.
//   f  = σ(W_f x + U_f h + b_f)
//   h̃ = tanh(W_h x + U_h (f ⊙ h) + b_h)
//   h' = (1 − f) ⊙ h + f ⊙ h̃
// Parameters weight_ih (2H, I), weight_hh (2H, H), bias (2H), rows f then h̃.
//
// Two exports, in the factory form the CLI loads (seqgrad is passed in; nothing is imported):
// - default: the cell, for `seqgrad train --cell examples/cells/mgu.mjs` and `Recurrent`;
// - bpttCell: the same step written twice, composed from autograd ops (from the very function
//   the cell uses) and by hand on flat float64 arrays, for `checkBptt` and `seqgrad gradcheck`.

/** One step from autograd ops: the new h and the two pre-activations (the "gates" checkBptt compares). */
function mguStep(autograd, { weightIh, weightHh, bias }, x, h) {
  const { add, chunk, linear, mul, narrow, sigmoid, sub, tanh } = autograd;
  const H = h.shape[h.ndim - 1];
  const [xf, xn] = chunk(linear(x, weightIh, bias), 2, -1);
  const af = add(xf, linear(h, narrow(weightHh, 0, 0, H)));
  const f = sigmoid(af);
  const an = add(xn, linear(mul(f, h), narrow(weightHh, 0, H, H)));
  // (1 − f) h + f h̃ = h + f (h̃ − h)
  return { h: add(h, mul(f, sub(tanh(an), h))), f: af, n: an };
}

export default function makeMGUCell({ autograd, layers }, inputSize, hiddenSize, opts = {}) {
  const { zeros } = autograd;

  class MGUCell extends layers.RecurrentCell {
    stateSizes = { h: hiddenSize };

    constructor() {
      super(inputSize, hiddenSize, opts);
      const H = hiddenSize;
      this.weightIh = this.registerParameter('weight_ih', zeros([2 * H, inputSize], { dtype: this.dtype }));
      this.weightHh = this.registerParameter('weight_hh', zeros([2 * H, H], { dtype: this.dtype }));
      this.bias = this.registerParameter('bias', zeros([2 * H], { dtype: this.dtype }));
      this.resetParameters(opts.generator);
    }

    resetParameters(generator) {
      const k = 1 / Math.sqrt(this.hiddenSize);
      for (const t of [this.weightIh, this.weightHh, this.bias]) layers.init.uniform(t, -k, k, { generator });
    }

    step(x, { h }) {
      return { h: mguStep(autograd, this, x, h).h };
    }
  }

  return new MGUCell();
}

const sigma = (a) => 1 / (1 + Math.exp(-a));

/** The MGU step by hand, for checkBptt: flat row-major float64 arrays, x (B, I), h (B, H). */
export function bpttCell({ autograd }, inputSize, hiddenSize) {
  const I = inputSize;
  const H = hiddenSize;
  return {
    name: 'mgu',
    inputSize: I,
    stateSizes: { h: H },
    paramShapes: { weightIh: [2 * H, I], weightHh: [2 * H, H], bias: [2 * H] },
    gates: ['f', 'n'],
    composed: (p, x, s) => mguStep(autograd, p, x, s.h),

    forward(p, x, s, B) {
      const h = s.h;
      const f = new Float64Array(B * H);
      const fh = new Float64Array(B * H);
      const n = new Float64Array(B * H);
      const hNext = new Float64Array(B * H);
      // a = W x + b (+ U h), row r of W for unit r
      const pre = (r, b, hIn) => {
        let a = p.bias[r];
        for (let k = 0; k < I; k++) a += p.weightIh[r * I + k] * x[b * I + k];
        for (let k = 0; k < H; k++) a += p.weightHh[r * H + k] * hIn[b * H + k];
        return a;
      };
      for (let b = 0; b < B; b++) {
        for (let j = 0; j < H; j++) {
          f[b * H + j] = sigma(pre(j, b, h));
          fh[b * H + j] = f[b * H + j] * h[b * H + j];
        }
        for (let j = 0; j < H; j++) {
          n[b * H + j] = Math.tanh(pre(H + j, b, fh));
          hNext[b * H + j] = h[b * H + j] + f[b * H + j] * (n[b * H + j] - h[b * H + j]);
        }
      }
      return { state: { h: hNext }, cache: { x, h, f, fh, n } };
    },

    backward(p, { x, h, f, fh, n }, d, B) {
      const dh = d.h;
      const dAf = new Float64Array(B * H); // dL/da_f
      const dAn = new Float64Array(B * H); // dL/da_n
      const dFh = new Float64Array(B * H); // dL/d(f ⊙ h) = dA_n U_h
      const dhPrev = new Float64Array(B * H);
      for (let b = 0; b < B; b++) {
        // d h' / d h̃ = f;  d tanh(a) = (1 − h̃²) da
        for (let j = 0; j < H; j++) dAn[b * H + j] = dh[b * H + j] * f[b * H + j] * (1 - n[b * H + j] ** 2);
        for (let k = 0; k < H; k++) {
          let s = 0;
          for (let j = 0; j < H; j++) s += dAn[b * H + j] * p.weightHh[(H + j) * H + k];
          dFh[b * H + k] = s;
        }
        for (let j = 0; j < H; j++) {
          const q = b * H + j;
          // f reaches the loss through h' = h + f (h̃ − h) and through f ⊙ h inside h̃
          const df = dh[q] * (n[q] - h[q]) + dFh[q] * h[q];
          dAf[q] = df * f[q] * (1 - f[q]);
          dhPrev[q] = dh[q] * (1 - f[q]) + dFh[q] * f[q];
        }
        for (let k = 0; k < H; k++) {
          let s = 0;
          for (let j = 0; j < H; j++) s += dAf[b * H + j] * p.weightHh[j * H + k];
          dhPrev[b * H + k] += s;
        }
      }
      const dx = new Float64Array(B * I);
      const dWih = new Float64Array(2 * H * I);
      const dWhh = new Float64Array(2 * H * H);
      const dBias = new Float64Array(2 * H);
      for (let b = 0; b < B; b++) {
        for (let j = 0; j < H; j++) {
          const gf = dAf[b * H + j];
          const gn = dAn[b * H + j];
          dBias[j] += gf;
          dBias[H + j] += gn;
          for (let k = 0; k < I; k++) {
            dx[b * I + k] += gf * p.weightIh[j * I + k] + gn * p.weightIh[(H + j) * I + k];
            dWih[j * I + k] += gf * x[b * I + k];
            dWih[(H + j) * I + k] += gn * x[b * I + k];
          }
          for (let k = 0; k < H; k++) {
            dWhh[j * H + k] += gf * h[b * H + k];
            dWhh[(H + j) * H + k] += gn * fh[b * H + k];
          }
        }
      }
      return { dx, dState: { h: dhPrev }, dParams: { weightIh: dWih, weightHh: dWhh, bias: dBias }, dGates: { f: dAf, n: dAn } };
    },
  };
}
