/**
 * `seqgrad sample`: text from a character-LM checkpoint, one character at a time, carrying the
 * recurrent state so the prompt is read once.
 */
import { Generator, Tensor, categorical, noGrad, select } from '@seqgrad/autograd';
import { loadCheckpointTensors, readCheckpointHeader, specOf } from './checkpoint.js';
import { checkConfigAgainstHeader, validateConfig } from './config.js';
import { CliError } from './errors.js';
import { type CustomCell, type SequenceModel, loadCellFactory } from './model.js';
import { Trainer } from './trainer.js';

export interface SampleOptions {
  checkpoint: string;
  prompt: string;
  length: number;
  temperature: number;
  seed: number;
  /** The module of the custom cell the checkpoint was trained with (checked against its hash). */
  cell?: string | null;
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
  let outText = '';
  // Sampling is evaluation: no dropout masks; zoneout by its expectation.
  const wasTraining = model.training;
  model.eval();
  try {
    noGrad(() => {
      let r = model.run(new Tensor(Int32Array.from(ids), [1, ids.length]));
      for (let k = 0; k < length; k++) {
        const T = r.output.shape[1]!;
        const next = categorical(select(select(r.output, 0, 0), 0, T - 1), { temperature, generator: gen }).item();
        outText += vocab[next];
        r = model.run(new Tensor(Int32Array.from([next]), [1, 1]), r.state);
      }
    });
  } finally {
    model.train(wasTraining);
  }
  return prompt + outText;
}

/** "a" or "an" before a word. */
export function article(word: string): string {
  return /^[aeiou]/i.test(word) ? 'an' : 'a';
}

export async function sampleCommand(opts: SampleOptions): Promise<void> {
  const ck = readCheckpointHeader(opts.checkpoint);
  const config = validateConfig(ck.config, opts.checkpoint);
  if (config.task !== 'charlm') {
    throw new CliError(`${opts.checkpoint}: ${article(config.task)} ${config.task} checkpoint; sample needs one trained with --task charlm`);
  }
  checkConfigAgainstHeader(config, ck.entries, opts.checkpoint);
  let cell: CustomCell | undefined;
  if (config.cellSha256 !== undefined) {
    if (opts.cell == null) {
      throw new CliError(`${opts.checkpoint} was trained with the custom cell '${config.cell}': pass its module again with --cell FILE (a checkpoint never names code to load)`);
    }
    cell = await loadCellFactory(opts.cell, config.cellSha256, config.cell);
  } else if (opts.cell != null && opts.cell !== config.cell) {
    throw new CliError(`--cell ${opts.cell}: the checkpoint holds the built-in cell ${config.cell}`);
  }
  const vocab = config.vocab!;
  // Sampling needs the model, not the training text (which may not be at hand): the task is
  // built over a stand-in text made of the checkpoint's vocabulary, long enough for one window.
  const standIn = vocab.join('').repeat(Math.ceil((config.seqLen + 2) / vocab.length) + 1);
  const trainer = Trainer.create({ ...config }, standIn, cell?.factory);
  trainer.restoreWeights(loadCheckpointTensors(ck, specOf(trainer.model.namedParameters())));
  trainer.model.eval();
  process.stdout.write(`${generate(trainer.model, vocab, opts.prompt, opts.length, opts.temperature, opts.seed)}\n`);
}
