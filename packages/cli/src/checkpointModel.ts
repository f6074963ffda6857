/**
 * A checkpoint written by `seqgrad train` (format seqgrad.checkpoint.v2), from its bytes to a
 * model: the header and metadata are checked, the config field by field and bounded, and every
 * tensor's dtype and shape against the config before the model is built; then each weight is
 * compared with the built model before it is read. Free of Node APIs, so a page reads the same
 * files with the same checks as the CLI.
 */
import { loadCheckpointTensors, parseCheckpointHeader, specOf, type CheckpointHeader } from './checkpoint.js';
import { type TrainConfig, checkConfigAgainstHeader, taskSizes, validateConfig } from './config.js';
import { CliError } from './errors.js';
import { type CellFactory, type ModelConfig, type SequenceModel, buildModel } from './sequenceModel.js';

/** A checkpoint whose header, metadata and config are checked; its tensors are not read yet. */
export interface Checkpoint {
  config: TrainConfig;
  step: number;
  header: CheckpointHeader;
}

/**
 * Checks a checkpoint's bytes: format, step, the config (every field, within `LIMITS`) and the
 * tensors the config implies (names, dtypes, shapes in the header). `source` names it in errors.
 *
 * @example
 * const ck = readCheckpoint(new Uint8Array(await (await fetch('lm.safetensors')).arrayBuffer()), { source: 'lm.safetensors' });
 * ck.config.task; // 'charlm'
 */
export function readCheckpoint(bytes: Uint8Array, opts: { source?: string } = {}): Checkpoint {
  const source = opts.source ?? 'checkpoint';
  const header = parseCheckpointHeader(bytes, source);
  const config = validateConfig(header.config, source);
  checkConfigAgainstHeader(config, header.entries, source);
  return { config, step: header.step, header };
}

/** The model config of a training config: sizes from the task, the head on the last step (adding) or every step. */
export function modelConfigOf(config: TrainConfig): ModelConfig {
  const { inputKind, inputSize, outputSize } = taskSizes(config);
  return {
    cell: config.cell, hidden: config.hidden, layers: config.layers, bidirectional: config.bidirectional,
    inputKind, inputSize, outputSize, readout: config.task === 'adding' ? 'last' : 'all', embed: config.embed, forgetBias: config.forgetBias,
  };
}

/**
 * Builds the checkpoint's model and loads its weights (each compared with the model's parameter
 * of that name first). A custom cell's code is never in a checkpoint: pass its factory, which the
 * checkpoint's recorded name and hash describe.
 *
 * @example
 * const model = loadCheckpointModel(readCheckpoint(bytes));
 * model.eval();
 */
export function loadCheckpointModel(ck: Checkpoint, cellFactory?: CellFactory): SequenceModel {
  const { config, header } = ck;
  if (config.cellSha256 !== undefined && !cellFactory) {
    throw new CliError(`${header.path} was trained with the custom cell '${config.cell}': its code is not in the checkpoint, so pass the cell's factory`);
  }
  const model = buildModel(modelConfigOf(config), config.seed, config.cellSha256 === undefined ? undefined : cellFactory);
  model.loadStateDict(loadCheckpointTensors(header, specOf(model.namedParameters())).model);
  return model;
}
