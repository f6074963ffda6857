/**
 * `seqgrad sample`: text from a character-LM checkpoint, one character at a time, carrying the
 * recurrent state so the prompt is read once.
 */
import { Generator, SeqgradError } from '@seqgrad/autograd';
import { type CustomCell, loadCellFactory } from './cellModule.js';
import { readCheckpointHeader } from './checkpointFile.js';
import { loadCheckpointModel } from './checkpointModel.js';
import { checkConfigAgainstHeader, validateConfig } from './config.js';
import { CliError } from './errors.js';
import { sampleText } from './sampleText.js';

export interface SampleOptions {
  checkpoint: string;
  prompt: string;
  length: number;
  temperature: number;
  seed: number;
  /** The module of the custom cell the checkpoint was trained with (checked against its hash). */
  cell?: string | null;
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
  const model = loadCheckpointModel({ config, step: ck.step, header: ck }, cell?.factory);
  model.eval();
  let text: string;
  try {
    text = sampleText(model, config.vocab!, { prompt: opts.prompt, length: opts.length, temperature: opts.temperature, generator: new Generator(opts.seed) });
  } catch (err) {
    // A prompt outside the vocabulary is the user's mistake: one line naming the flag.
    if (err instanceof SeqgradError) throw new CliError(err.message.replace(/^sampleText: prompt character/, '--prompt: character').replace(/^sampleText: the prompt/, '--prompt'));
    throw err;
  }
  process.stdout.write(`${text}\n`);
}
