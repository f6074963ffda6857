/**
 * A small encoder-decoder (sequence-to-sequence) model with optional attention, written only
 * with the public API: Embedding → LSTM encoder over the padded source (with lengths), LSTM
 * decoder started from the encoder's final state, attention of every decoder state over the
 * encoder outputs (Luong et al. 2015's placement: after the decoder step), and a head on
 * tanh(W_c [s_t; c_t]). With `attention: 'none'` the context is left out and the decoder
 * sees the source only through the encoder's final (h, c): the classic bottleneck.
 */
import { type FloatDType, type Generator, type Tensor, concat, crossEntropy, noGrad, reshape, tensor } from '@seqgrad/autograd';
import { Embedding, LSTM, Linear, Module } from '@seqgrad/layers';
import { AdditiveAttention, type Attention, DotAttention } from './attention.js';
import { BOS, PAD, type Batch } from './task.js';

export type AttentionKind = 'dot' | 'additive' | 'none';

export interface Seq2SeqOptions {
  /** Number of token ids, PAD and BOS included. */
  vocabSize: number;
  embedSize: number;
  hiddenSize: number;
  attention: AttentionKind;
  /** Additive attention's hidden size (default hiddenSize). */
  attentionSize?: number;
  /** float32 (default) to train, float64 to gradcheck the whole model. */
  dtype?: FloatDType;
  generator: Generator;
}

export class Seq2Seq extends Module {
  readonly embed: Embedding;
  readonly encoder: LSTM;
  readonly decoder: LSTM;
  readonly attention: Attention | null;
  readonly combine: Linear;
  readonly head: Linear;

  constructor(readonly opts: Seq2SeqOptions) {
    super();
    const { vocabSize: V, embedSize: E, hiddenSize: H, generator } = opts;
    const dtype = opts.dtype ?? 'float32';
    this.embed = this.registerModule('embed', new Embedding(V, E, { paddingIdx: PAD, dtype, generator }));
    this.encoder = this.registerModule('encoder', new LSTM(E, H, { forgetBias: 1, dtype, generator }));
    this.decoder = this.registerModule('decoder', new LSTM(E, H, { forgetBias: 1, dtype, generator }));
    this.attention =
      opts.attention === 'dot' ? this.registerModule('attention', new DotAttention())
        : opts.attention === 'additive' ? this.registerModule('attention', new AdditiveAttention(H, opts.attentionSize ?? H, { dtype, generator }))
          : null;
    this.combine = this.registerModule('combine', new Linear(this.attention ? 2 * H : H, H, { dtype, generator }));
    this.head = this.registerModule('head', new Linear(H, V, { dtype, generator }));
  }

  /** Encoder outputs (B, Ts, H), zero at padded steps, and the final state at each length. */
  encode(source: Tensor, lengths: Int32Array): { keys: Tensor; state: { h: Tensor; c: Tensor } } {
    const { output, state } = this.encoder.forward(this.embed.forward(source), undefined, { lengths });
    return { keys: output, state };
  }

  /** Logits (B, Tt, V) for decoder inputs (B, Tt), and the attention weights (B, Tt, Ts) if any. */
  decode(
    decoderInput: Tensor, state: { h: Tensor; c: Tensor }, keys: Tensor, sourceMask: Tensor,
  ): { logits: Tensor; state: { h: Tensor; c: Tensor }; weights: Tensor | null } {
    const { output, state: next } = this.decoder.forward(this.embed.forward(decoderInput), state); // (B, Tt, H)
    let features = output;
    let weights: Tensor | null = null;
    if (this.attention) {
      const att = this.attention.forward(output, keys, sourceMask);
      features = concat([output, att.context], -1); // (B, Tt, 2H)
      weights = att.weights;
    }
    return { logits: this.head.forward(this.combine.forward(features).tanh()), state: next, weights };
  }

  /** Mean cross entropy of the next target token under teacher forcing (padding ignored). */
  loss(batch: Batch): Tensor {
    const { keys, state } = this.encode(batch.source, batch.lengths);
    const { logits } = this.decode(batch.decoderInput, state, keys, batch.sourceMask);
    const [B, Tt, V] = logits.shape as [number, number, number];
    return crossEntropy(reshape(logits, [B * Tt, V]), reshape(batch.target, [B * Tt]), { ignoreIndex: -100 });
  }

  /** Greedy decoding of `steps` tokens per sequence, each fed back as the next input: (B, steps) int32. */
  greedy(source: Tensor, lengths: Int32Array, sourceMask: Tensor, steps: number): Int32Array {
    return noGrad(() => {
      const B = source.shape[0]!;
      const { keys, state: s0 } = this.encode(source, lengths);
      let state = s0;
      let input = tensor(new Int32Array(B).fill(BOS), { shape: [B, 1] });
      const out = new Int32Array(B * steps);
      for (let t = 0; t < steps; t++) {
        const r = this.decode(input, state, keys, sourceMask);
        state = r.state;
        const next = r.logits.argmax(-1); // (B, 1)
        for (let b = 0; b < B; b++) out[b * steps + t] = next.data[b]!;
        input = tensor(Int32Array.from(next.data), { shape: [B, 1] });
      }
      return out;
    });
  }
}
