import { type Generator, type Tensor, add, zeros, chunk, linear, mul, narrow, relu, sigmoid, sub, tanh } from '@seqgrad/autograd';
import * as init from './init.js';

/**
 * One time step of each recurrent cell, written only with autograd ops: the composed
 * reference whose gradients come from the engine. `gi` is the input projection
 * W_ih x + b_ih (B, G), computed by the caller (per step in a cell, once for the whole
 * sequence in a layer). Gate order is PyTorch's.
 */

/**
 * h' = act(gi + W_hh h + b_hh), act = tanh or relu. Shapes: gi (B, H), h (B, H), W_hh (H, H), b_hh (H).
 *
 * @example
 * const gi = linear(x, wIh, bIh);                 // (B, H), once per step or per sequence
 * const h1 = rnnStep(gi, h0, wHh, bHh, 'tanh');  // (B, H)
 */
export function rnnStep(gi: Tensor, h: Tensor, wHh: Tensor, bHh: Tensor | null, nonlinearity: 'tanh' | 'relu'): Tensor {
  const pre = add(gi, linear(h, wHh, bHh));
  return nonlinearity === 'relu' ? relu(pre) : tanh(pre);
}

/**
 * i, f, g, o = σ, σ, tanh, σ of the four (B, H) blocks of gi + W_hh h + b_hh;
 * c' = f c + i g;  h' = o tanh(c'), then h' = W_hr h' when projecting (projSize).
 * Shapes: gi (B, 4H), h (B, H or P), c (B, H), W_hh (4H, H or P), b_hh (4H), W_hr (P, H).
 *
 * @example
 * const { h, c } = lstmStep(linear(x, wIh, bIh), h0, c0, wHh, bHh); // (B, H) each
 */
export function lstmStep(
  gi: Tensor, h: Tensor, c: Tensor, wHh: Tensor, bHh: Tensor | null, wHr: Tensor | null = null,
): { h: Tensor; c: Tensor } {
  const [gateI, gateF, gateG, gateO] = chunk(add(gi, linear(h, wHh, bHh)), 4, -1) as [Tensor, Tensor, Tensor, Tensor];
  const i = sigmoid(gateI);
  const f = sigmoid(gateF);
  const g = tanh(gateG);
  const o = sigmoid(gateO);
  const cNext = add(mul(f, c), mul(i, g));
  let hNext = mul(o, tanh(cNext));
  if (wHr) hNext = linear(hNext, wHr);
  return { h: hNext, c: cNext };
}

/**
 * r, z = σ(gi_r + gh_r), σ(gi_z + gh_z);  h' = (1 − z) n + z h, with
 * n = tanh(gi_n + r (W_hn h + b_hn))    when resetAfter (PyTorch, cuDNN), or
 * n = tanh(gi_n + W_hn (r h) + b_hn)    otherwise (Cho et al. 2014).
 * Shapes: gi (B, 3H), h (B, H), W_hh (3H, H), b_hh (3H).
 *
 * @example
 * const h1 = gruStep(linear(x, wIh, bIh), h0, wHh, bHh); // (B, H)
 */
export function gruStep(gi: Tensor, h: Tensor, wHh: Tensor, bHh: Tensor | null, resetAfter = true): Tensor {
  const H = h.shape[h.ndim - 1]!;
  const [giR, giZ, giN] = chunk(gi, 3, -1) as [Tensor, Tensor, Tensor];
  let r: Tensor;
  let z: Tensor;
  let n: Tensor;
  if (resetAfter) {
    const [ghR, ghZ, ghN] = chunk(linear(h, wHh, bHh), 3, -1) as [Tensor, Tensor, Tensor];
    r = sigmoid(add(giR, ghR));
    z = sigmoid(add(giZ, ghZ));
    n = tanh(add(giN, mul(r, ghN)));
  } else {
    const ghRZ = linear(h, narrow(wHh, 0, 0, 2 * H), bHh && narrow(bHh, 0, 0, 2 * H));
    const [ghR, ghZ] = chunk(ghRZ, 2, -1) as [Tensor, Tensor];
    r = sigmoid(add(giR, ghR));
    z = sigmoid(add(giZ, ghZ));
    n = tanh(add(giN, linear(mul(r, h), narrow(wHh, 0, 2 * H, H), bHh && narrow(bHh, 0, 2 * H, H))));
  }
  // (1 − z) n + z h = n + z (h − n)
  return add(n, mul(z, sub(h, n)));
}

/** How recurrent weights start (PyTorch's default is uniform for everything). */
export interface RecurrentInitOptions {
  generator?: Generator;
  /** 'orthogonal': each gate's (H, H) block of W_hh is orthogonal (Saxe et al. 2013). */
  recurrentInit?: 'uniform' | 'orthogonal';
  /**
   * LSTM only: the forget-gate slice of b_ih is set to this value and that of b_hh to 0,
   * so the effective forget bias is this value (Jozefowicz et al. 2015 recommend 1).
   */
  forgetBias?: number;
}

/**
 * PyTorch's default U(−1/√H, 1/√H) for every weight and bias of one layer and direction,
 * then the requested options. `gates` is 1 (RNN), 3 (GRU) or 4 (LSTM).
 *
 * @example
 * const cell = new LSTMCell(3, 8);
 * initRecurrent(cell, 8, 4, { recurrentInit: 'orthogonal', forgetBias: 1, generator: new Generator(0) });
 */
export function initRecurrent(
  p: { weightIh: Tensor; weightHh: Tensor; biasIh: Tensor | null; biasHh: Tensor | null; weightHr?: Tensor | null },
  hiddenSize: number,
  gates: number,
  opts: RecurrentInitOptions = {},
): void {
  const k = 1 / Math.sqrt(hiddenSize);
  const generator = opts.generator;
  for (const t of [p.weightIh, p.weightHh, p.biasIh, p.biasHh, p.weightHr ?? null]) {
    if (t) init.uniform(t, -k, k, { generator });
  }
  if (opts.recurrentInit === 'orthogonal') {
    const [rows, cols] = p.weightHh.shape as [number, number];
    const block = rows / gates;
    for (let gi = 0; gi < gates; gi++) {
      const view = p.weightHh.data.subarray(gi * block * cols, (gi + 1) * block * cols);
      const tmp = init.orthogonal(zeros([block, cols], { dtype: 'float64' }), 1, { generator });
      view.set(tmp.data);
    }
  }
  if (opts.forgetBias !== undefined && gates === 4) {
    const H = hiddenSize;
    p.biasIh?.data.fill(opts.forgetBias, H, 2 * H);
    p.biasHh?.data.fill(0, H, 2 * H);
  }
  // The orthogonal blocks and the forget bias are written in place, past init's own bumps.
  p.weightHh.bumpVersion();
  p.biasIh?.bumpVersion();
  p.biasHh?.bumpVersion();
}
