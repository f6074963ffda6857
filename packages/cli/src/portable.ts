/**
 * `seqgrad/model`: the CLI's model, checkpoint reader and sampler without any Node API, for
 * pages and other runtimes: read a checkpoint written by `seqgrad train` from its bytes, rebuild
 * its model, and sample text from a character LM as `seqgrad sample` does.
 *
 * @example
 * import { Generator } from '@seqgrad/autograd';
 * import { loadCheckpointModel, readCheckpoint, sampleText } from 'seqgrad/model';
 * const ck = readCheckpoint(bytes);
 * const model = loadCheckpointModel(ck);
 * model.eval();
 * sampleText(model, ck.config.vocab!, { prompt: 'the ', length: 80, temperature: 0.7, generator: new Generator(3) });
 */
export { type Checkpoint, readCheckpoint, loadCheckpointModel, modelConfigOf } from './checkpointModel.js';
export { type CheckpointData, type CheckpointHeader, CHECKPOINT_FORMAT, encodeCheckpoint, parseCheckpointHeader, loadCheckpointTensors, specOf } from './checkpoint.js';
export { type TrainConfig, LIMITS, validateConfig, checkConfigAgainstHeader, configSpec } from './config.js';
export { type CellBuildOptions, type CellFactory, type ModelConfig, SequenceModel, buildModel, builtinCell, checkStepState } from './sequenceModel.js';
export { type SampleTextOptions, type TextModel, sampleText } from './sampleText.js';
export { CliError } from './errors.js';
