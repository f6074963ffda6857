/**
 * Text from a character-LM checkpoint written by `seqgrad train --task charlm`, in a web page:
 * `seqgrad/model` reads the checkpoint's bytes (no file system, nothing executed) with the
 * checks `seqgrad sample` makes, rebuilds the model under the same names, and draws characters
 * one at a time as the command does (same seeded generator, same softmax with temperature), so
 * the page prints what the command prints.
 */
import { Generator } from '@seqgrad/autograd';
import { loadCheckpointModel, readCheckpoint, sampleText } from 'seqgrad/model';

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
export function sampleFromCheckpoint(bytes: Uint8Array, opts: SampleOptions = {}, source = 'checkpoint'): string {
  const { prompt = 'the ', length = 200, temperature = 0.8, seed = 0 } = opts;
  const ck = readCheckpoint(bytes, { source });
  if (ck.config.task !== 'charlm') throw new Error(`${source}: a ${ck.config.task} checkpoint; text needs one trained with --task charlm`);
  // A custom cell's code is not in the checkpoint, and this page has none to offer.
  const model = loadCheckpointModel(ck);
  model.eval();
  return sampleText(model, ck.config.vocab!, { prompt, length, temperature, generator: new Generator(seed) });
}
