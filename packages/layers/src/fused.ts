import { type FunctionCtx, SeqgradError, Tensor, defineFunction, isGradEnabled } from '@seqgrad/autograd';
import {
  gruBackward, gruForward, gruInference, lstmBackward, lstmCells, lstmForward, lstmInference, rnnBackward, rnnForward, rnnInference,
} from './bptt/index.js';
import { give } from './bptt/pool.js';
import type { CellParams, FloatArray, SeqDims } from './bptt/index.js';
import type { DirectionArgs, DirectionResult, RNNMode } from './rnn.js';

/**
 * The fused path: one custom autograd function per layer and direction whose forward and
 * backward are the hand-derived BPTT of ./bptt (the input projection of all steps in one
 * GEMM, the weight gradients summed over time in one GEMM), the way cuDNN fuses a layer.
 * Its backward is not itself differentiable: a double backward through it throws
 * (use impl: 'composed' for higher-order gradients).
 */

interface FusedConfig {
  mode: RNNMode;
  resetAfter: boolean;
  dims: SeqDims;
  reverse: boolean;
  lengths: Int32Array | null;
  /** LSTM: also output every step's cell state (returnAllStates). */
  allCells: boolean;
}

type Arg = Tensor | null;
const raw = (t: Arg): FloatArray | null => (t ? (t.data as FloatArray) : null);

function cellParams(wIh: Tensor, wHh: Tensor, bIh: Arg, bHh: Arg, wHr: Arg): CellParams {
  return { weightIh: raw(wIh)!, weightHh: raw(wHh)!, biasIh: raw(bIh), biasHh: raw(bHh), weightHr: raw(wHr) };
}

function refuseDoubleBackward(cfg: FusedConfig): void {
  if (isGradEnabled()) {
    throw new SeqgradError(
      `${cfg.mode.startsWith('RNN') ? 'RNN' : cfg.mode}(fused)`,
      'double backward is not supported: the hand-derived BPTT backward is not itself differentiable. ' +
        "Build the layer with impl: 'composed' for higher-order gradients (createGraph)",
    );
  }
}

const asTensor = (a: FloatArray | null, shape: number[]): Tensor | null => (a ? new Tensor(a, shape) : null);

/**
 * Keeps the forward's cache for the backward; its arrays (which nothing outside this function
 * references) go back to the pool once the engine frees the graph after that backward. Without
 * a recorded graph no backward can read them: they go back at once.
 */
function lendCache(ctx: FunctionCtx, cache: unknown, arrays: (FloatArray | null)[]): void {
  if (!ctx.recorded) {
    give(...arrays);
    return;
  }
  ctx.cache = cache;
  ctx.onFree(() => give(...arrays));
}

/**
 * fused(x, h0, c0, W_ih, W_hh, b_ih, b_hh, W_hr, cfg) → [output (B,T,S), hT (B,S), cT (B,H)] for
 * LSTM, plus every step's c (B,T,H) with cfg.allCells; [output, hT] otherwise.
 */
const makeFused = (name: string) => defineFunction({
  name,
  onceDifferentiable: true,
  // dx, dh0, dc0 and the weight gradients are new arrays, handed out once
  freshGradients: true,
  forward(ctx: FunctionCtx, x: Tensor, h0: Tensor, c0: Arg, wIh: Tensor, wHh: Tensor, bIh: Arg, bHh: Arg, wHr: Arg, cfg: FusedConfig): Tensor[] {
    const p = cellParams(wIh, wHh, bIh, bHh, wHr);
    const { B, T, H } = cfg.dims;
    const S = cfg.dims.P || H;
    const opts = { reverse: cfg.reverse, ...(cfg.lengths ? { lengths: cfg.lengths } : {}) };
    ctx.p = p;
    ctx.cfg = cfg;
    ctx.shapes = { x: x.shape, wIh: wIh.shape, wHh: wHh.shape, wHr: wHr?.shape };
    if (cfg.mode === 'LSTM') {
      if (!ctx.recorded && !cfg.allCells) {
        // No backward will follow: no cache to keep.
        const r = lstmInference(p, raw(x)!, raw(h0), raw(c0), cfg.dims, opts);
        return [new Tensor(r.output, [B, T, S]), new Tensor(r.hT, [B, S]), new Tensor(r.cT, [B, H])];
      }
      const r = lstmForward(p, raw(x)!, raw(h0), raw(c0), cfg.dims, opts);
      const outs = [new Tensor(r.output, [B, T, S]), new Tensor(r.hT, [B, S]), new Tensor(r.cT, [B, H])];
      if (cfg.allCells) outs.push(new Tensor(lstmCells(r.cache), [B, T, H]));
      lendCache(ctx, r.cache, [r.cache.gates, r.cache.cPrev, r.cache.tanhC, r.cache.hPrev, r.cache.m]);
      return outs;
    }
    const gruOpts = { ...opts, resetAfter: cfg.resetAfter };
    const rnnOpts = { ...opts, nonlinearity: cfg.mode === 'RNN_RELU' ? 'relu' as const : 'tanh' as const };
    if (!ctx.recorded) {
      const r = cfg.mode === 'GRU' ? gruInference(p, raw(x)!, raw(h0), cfg.dims, gruOpts) : rnnInference(p, raw(x)!, raw(h0), cfg.dims, rnnOpts);
      return [new Tensor(r.output, [B, T, S]), new Tensor(r.hT, [B, S])];
    }
    const r = cfg.mode === 'GRU' ? gruForward(p, raw(x)!, raw(h0), cfg.dims, gruOpts) : rnnForward(p, raw(x)!, raw(h0), cfg.dims, rnnOpts);
    const c = r.cache;
    lendCache(ctx, c, 'gates' in c ? [c.gates, c.hPrev, c.hn] : [c.h, c.hPrev]);
    return [new Tensor(r.output, [B, T, S]), new Tensor(r.hT, [B, S])];
  },
  backward(ctx: FunctionCtx, dOutput: Tensor, dhT: Tensor, dcT?: Tensor, dCells?: Tensor) {
    const cfg = ctx.cfg as FusedConfig;
    refuseDoubleBackward(cfg);
    const p = ctx.p as CellParams;
    const shapes = ctx.shapes as { x: number[]; wIh: number[]; wHh: number[]; wHr?: number[] };
    const { B, H } = cfg.dims;
    const S = cfg.dims.P || H;
    const G = shapes.wIh[0]!;
    const g = cfg.mode === 'LSTM'
      ? lstmBackward(p, ctx.cache as Parameters<typeof lstmBackward>[1], raw(dOutput), raw(dhT), raw(dcT ?? null), { dCells: raw(dCells ?? null) })
      : cfg.mode === 'GRU'
        ? gruBackward(p, ctx.cache as Parameters<typeof gruBackward>[1], raw(dOutput), raw(dhT))
        : rnnBackward(p, ctx.cache as Parameters<typeof rnnBackward>[1], raw(dOutput), raw(dhT));
    // The gate pre-activation gradients stay inside this function: back to the pool.
    give(g.dGates);
    const dc0 = 'dc0' in g ? (g.dc0 as FloatArray) : null;
    const dWeightHr = 'dWeightHr' in g ? (g.dWeightHr as FloatArray | null) : null;
    return [
      new Tensor(g.dx, shapes.x),
      new Tensor(g.dh0, [B, S]),
      asTensor(dc0, [B, H]),
      new Tensor(g.dWeightIh, shapes.wIh),
      new Tensor(g.dWeightHh, shapes.wHh),
      asTensor(g.dBiasIh, [G]),
      asTensor(g.dBiasHh, [G]),
      shapes.wHr ? asTensor(dWeightHr, shapes.wHr) : null,
      null,
    ];
  },
});

// One function per mode, so that messages name the layer ('LSTM(fused): ...').
const fusedLayers: Record<RNNMode, ReturnType<typeof makeFused>> = {
  RNN_TANH: makeFused('RNN(fused)'),
  RNN_RELU: makeFused('RNN(fused)'),
  LSTM: makeFused('LSTM(fused)'),
  GRU: makeFused('GRU(fused)'),
};

/** One layer and direction through the fused function; same contract as the composed path. */
export function fusedDirection(
  mode: RNNMode,
  resetAfter: boolean,
  a: DirectionArgs,
): DirectionResult {
  const [B, T, I] = a.x.shape as [number, number, number];
  const H = a.p.weightHh.shape[0]! / (mode === 'LSTM' ? 4 : mode === 'GRU' ? 3 : 1);
  const dims: SeqDims = { B, T, I, H, ...(a.p.weightHr ? { P: a.p.weightHr.shape[0]! } : {}) };
  const cfg: FusedConfig = { mode, resetAfter, dims, reverse: a.reverse, lengths: a.lengths, allCells: mode === 'LSTM' && a.allCells };
  const outs = fusedLayers[mode](a.x, a.h0, a.c0, a.p.weightIh, a.p.weightHh, a.p.biasIh, a.p.biasHh, a.p.weightHr, cfg);
  const [output, h, c, cells] = outs as [Tensor, Tensor, Tensor | undefined, Tensor | undefined];
  return { output, state: c ? { h, c } : { h }, ...(cells ? { sequences: { c: cells } } : {}) };
}
