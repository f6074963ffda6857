/**
 * `seqgrad sample`: text from a character-LM checkpoint, one character at a time, carrying the
 * recurrent state so the prompt is read once.
 */
import { Generator, Tensor, noGrad } from '@seqgrad/autograd';
import { loadCheckpoint } from './checkpoint.js';
import { CliError } from './errors.js';
import { type SequenceModel } from './model.js';
import { type TrainConfig, Trainer } from './trainer.js';

export interface SampleOptions {
  checkpoint: string;
  prompt: string;
  length: number;
  temperature: number;
  seed: number;
}

/** Draws an index from softmax(logits / temperature); temperature 0 takes the largest. */
function draw(logits: ArrayLike<number>, offset: number, V: number, temperature: number, gen: Generator): number {
  let best = 0;
  for (let c = 1; c < V; c++) if (logits[offset + c]! > logits[offset + best]!) best = c;
  if (temperature === 0) return best;
  const p = new Float64Array(V);
  let sum = 0;
  for (let c = 0; c < V; c++) {
    p[c] = Math.exp((logits[offset + c]! - logits[offset + best]!) / temperature);
    sum += p[c]!;
  }
  let u = gen.uniform() * sum;
  for (let c = 0; c < V; c++) {
    u -= p[c]!;
    if (u <= 0) return c;
  }
  return V - 1;
}

/** Continues `prompt` by `length` characters. */
export function generate(model: SequenceModel, vocab: readonly string[], prompt: string, length: number, temperature: number, seed: number): string {
  const index = new Map(vocab.map((c, i) => [c, i]));
  const ids = Array.from(prompt).map((c) => {
    const id = index.get(c);
    if (id === undefined) {
      throw new CliError(`--prompt: character ${JSON.stringify(c)} is not in the model's vocabulary (${JSON.stringify(vocab.join(''))})`);
    }
    return id;
  });
  if (ids.length === 0) throw new CliError('--prompt must hold at least one character');
  const gen = new Generator(seed);
  const V = vocab.length;
  let outText = '';
  noGrad(() => {
    let r = model.run(new Tensor(Int32Array.from(ids), [1, ids.length]));
    for (let k = 0; k < length; k++) {
      const T = r.output.shape[1]!;
      const next = draw(r.output.data, (T - 1) * V, V, temperature, gen);
      outText += vocab[next];
      r = model.run(new Tensor(Int32Array.from([next]), [1, 1]), r.state);
    }
  });
  return prompt + outText;
}

export async function sampleCommand(opts: SampleOptions): Promise<void> {
  const ckpt = loadCheckpoint(opts.checkpoint);
  const config = ckpt.config as unknown as TrainConfig;
  if (config.task !== 'charlm' || !Array.isArray(config.vocab)) {
    throw new CliError(`${opts.checkpoint}: a ${String(config.task)} checkpoint; sample needs one trained with --task charlm`);
  }
  // Sampling needs the model, not the training text (which may not be at hand): the task is
  // built over a stand-in text made of the checkpoint's vocabulary, long enough for one window.
  const standIn = config.vocab.join('').repeat(Math.ceil((config.seqLen + 2) / config.vocab.length) + 1);
  const trainer = await Trainer.create({ ...config, text: '' }, standIn);
  trainer.restore(ckpt, opts.checkpoint);
  trainer.model.eval();
  process.stdout.write(`${generate(trainer.model, config.vocab, opts.prompt, opts.length, opts.temperature, opts.seed)}\n`);
}
