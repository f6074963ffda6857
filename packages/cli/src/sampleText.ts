/**
 * Text from a character LM, one character at a time, carrying the recurrent state so the prompt
 * is read once; each character is drawn by `categorical` from softmax(logits / temperature) with
 * the caller's generator, so a seed gives the same text in Node and in a page.
 */
import { type Generator, SeqgradError, Tensor, categorical, noGrad, select } from '@seqgrad/autograd';

/** A model that reads token ids (B, T) from a recurrent state (none: zeros) and returns logits (B, T, V) and the next state. */
export interface TextModel {
  run(input: Tensor, state?: unknown): { output: Tensor; state: unknown };
}

export interface SampleTextOptions {
  /** The text to continue: at least one character, each in the vocabulary. */
  prompt: string;
  /** How many characters to add. */
  length: number;
  /** Softmax temperature (≥ 0): below 1 sharper, above 1 flatter, 0 the most likely character. Default 1. */
  temperature?: number;
  /** The generator each character is drawn from (default: the global one). */
  generator?: Generator;
}

/**
 * Continues `prompt` by `length` characters drawn from `model`; `vocab[id]` is the character of
 * token `id`. Returns the prompt followed by the new characters.
 *
 * @example
 * const { model, config } = loadCheckpointModel(readCheckpoint(bytes));
 * model.eval();
 * sampleText(model, config.vocab!, { prompt: 'the ', length: 80, temperature: 0.7, generator: new Generator(3) });
 */
export function sampleText(model: TextModel, vocab: readonly string[], opts: SampleTextOptions): string {
  const { prompt, length, temperature = 1, generator } = opts;
  if (!Number.isSafeInteger(length) || length < 0) throw new SeqgradError('sampleText', `length must be a non-negative integer, got ${length}`);
  const index = new Map(vocab.map((c, i) => [c, i]));
  const ids = Array.from(prompt).map((c) => {
    const id = index.get(c);
    if (id === undefined) {
      throw new SeqgradError('sampleText', `prompt character ${JSON.stringify(c)} is not in the model's vocabulary (${JSON.stringify(vocab.join(''))})`);
    }
    return id;
  });
  if (ids.length === 0) throw new SeqgradError('sampleText', 'the prompt must hold at least one character');
  let outText = '';
  noGrad(() => {
    let r = model.run(new Tensor(Int32Array.from(ids), [1, ids.length]));
    for (let k = 0; k < length; k++) {
      const T = r.output.shape[1]!;
      const next = categorical(select(select(r.output, 0, 0), 0, T - 1), { temperature, generator }).item();
      outText += vocab[next];
      r = model.run(new Tensor(Int32Array.from([next]), [1, 1]), r.state);
    }
  });
  return prompt + outText;
}
