/**
 * Text from a character-LM checkpoint written by `seqgrad train --task charlm`, in a web page:
 * the checkpoint's bytes are read with `@seqgrad/io` (no file system, nothing executed), the
 * model is rebuilt from `@seqgrad/layers` under the same names, and characters are drawn one at
 * a time as `seqgrad sample` draws them (same seeded generator, same softmax with temperature),
 * so the page prints what the command prints.
 *
 * The config in the checkpoint is data: only the built-in cells are accepted, every size is
 * bounded, and each tensor's dtype and shape is compared with the rebuilt model before a
 * weight is read.
 */
import { Generator, Tensor, categorical, noGrad, select } from '@seqgrad/autograd';
import { Embedding, GRU, LSTM, Linear, Module, RNN, type RNNBase, type RNNState } from '@seqgrad/layers';
import { type TensorSpec, loadSafetensors, readSafetensorsHeader } from '@seqgrad/io';

/** The fields of a charlm checkpoint's config this page needs. */
interface CharlmConfig {
  cell: 'rnn' | 'lstm' | 'gru';
  hidden: number;
  layers: number;
  embed: number;
  vocab: string[];
  forgetBias?: number;
}

function readConfig(metadata: Record<string, string>): CharlmConfig {
  if (metadata.format !== 'seqgrad.checkpoint.v2') throw new Error(`not a seqgrad checkpoint (format ${JSON.stringify(metadata.format)})`);
  const c = JSON.parse(metadata.config ?? 'null') as Record<string, unknown> | null;
  if (!c || c.task !== 'charlm') throw new Error(`not a character-LM checkpoint (task ${JSON.stringify(c?.task)})`);
  if (c.cell !== 'rnn' && c.cell !== 'lstm' && c.cell !== 'gru') throw new Error(`cell ${JSON.stringify(c.cell)}: this page builds rnn, lstm and gru only`);
  if (c.bidirectional !== false) throw new Error('a bidirectional model cannot generate text');
  const size = (k: string, max: number) => {
    const v = c[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max) throw new Error(`config ${k} ${JSON.stringify(v)} is not an integer in 1..${max}`);
    return v;
  };
  const vocab = c.vocab;
  if (!Array.isArray(vocab) || vocab.length < 2 || vocab.length > 65536 || !vocab.every((ch) => typeof ch === 'string' && Array.from(ch).length === 1)) {
    throw new Error('config vocab is not a list of characters');
  }
  const forgetBias = typeof c.forgetBias === 'number' ? c.forgetBias : undefined;
  return { cell: c.cell, hidden: size('hidden', 4096), layers: size('layers', 64), embed: size('embed', 4096), vocab: vocab as string[], forgetBias };
}

/** Embedding → RNN/LSTM/GRU → Linear under the names `seqgrad train` writes (PyTorch's). */
class CharModel extends Module {
  readonly embedding: Embedding;
  readonly rnn: RNNBase;
  readonly head: Linear;

  constructor(c: CharlmConfig) {
    super();
    const V = c.vocab.length;
    this.embedding = this.registerModule('embedding', new Embedding(V, c.embed));
    const opts = { numLayers: c.layers, batchFirst: true };
    const rnn = c.cell === 'rnn' ? new RNN(c.embed, c.hidden, opts) : c.cell === 'lstm' ? new LSTM(c.embed, c.hidden, opts) : new GRU(c.embed, c.hidden, opts);
    this.rnn = this.registerModule('rnn', rnn);
    this.head = this.registerModule('head', new Linear(c.hidden, V));
  }

  /** Logits (1, T, V) for token ids (1, T), from a recurrent state (none: zeros), and the next state. */
  run(ids: number[], state?: RNNState): { logits: Tensor; state: RNNState } {
    const x = this.embedding.forward(new Tensor(Int32Array.from(ids), [1, ids.length]));
    const r = this.rnn.forward(x, state);
    return { logits: this.head.forward(r.output), state: r.state };
  }
}

export interface SampleOptions {
  prompt?: string;
  length?: number;
  temperature?: number;
  seed?: number;
}

/**
 * Continues `prompt` by `length` characters from the model in a checkpoint's bytes.
 *
 * @example
 * const bytes = new Uint8Array(await (await fetch('lm.safetensors')).arrayBuffer());
 * document.body.textContent = sampleFromCheckpoint(bytes, { prompt: 'the ', length: 200 });
 */
export function sampleFromCheckpoint(bytes: Uint8Array, opts: SampleOptions = {}): string {
  const { prompt = 'the ', length = 200, temperature = 0.8, seed = 0 } = opts;
  const config = readConfig(readSafetensorsHeader(bytes).metadata);
  const model = new CharModel(config);
  const expect = new Map<string, TensorSpec>(model.namedParameters().map(([n, p]) => [n, { dtype: 'F32', shape: p.shape }]));
  // strict: false: the optimizer's tensors are in the file too.
  const { tensors } = loadSafetensors(bytes, { expect, strict: false });
  model.loadStateDict(new Map([...expect.keys()].map((n) => [n, tensors.get(n)!])));
  model.eval();
  const index = new Map(config.vocab.map((ch, i) => [ch, i]));
  const ids = Array.from(prompt, (ch) => {
    const id = index.get(ch);
    if (id === undefined) throw new Error(`prompt character ${JSON.stringify(ch)} is not in the model's vocabulary`);
    return id;
  });
  if (ids.length === 0) throw new Error('the prompt must hold at least one character');
  const gen = new Generator(seed);
  let out = '';
  noGrad(() => {
    let r = model.run(ids);
    for (let k = 0; k < length; k++) {
      const T = r.logits.shape[1]!;
      const next = categorical(select(select(r.logits, 0, 0), 0, T - 1), { temperature, generator: gen }).item();
      out += config.vocab[next];
      r = model.run([next], r.state);
    }
  });
  return prompt + out;
}
