/**
 * seqgrad — the command line's building blocks, for scripts and tests: the tasks, the
 * safetensors reader and writer, checkpoints, the report renderer and the program itself.
 */
export { buildProgram, main } from './program.js';
export { type Task, type TaskName, type Batch, TASK_NAMES, TASK_DEFAULTS, makeTask, addingTask, echoTask, charlmTask, vocabularyOf } from './tasks.js';
export { EMBEDDED_TEXT } from './text.js';
export {
  type SafeTensor, type SafeDType, type SafetensorsFile, SafetensorsError,
  encodeSafetensors, decodeSafetensors, readSafetensors, writeSafetensorsAtomic,
} from './safetensors.js';
export { type CheckpointData, CHECKPOINT_FORMAT, saveCheckpoint, loadCheckpoint } from './checkpoint.js';
export { type ReportInput, type RunResult, renderReport, renderSvg } from './report.js';
export { SequenceModel, type ModelConfig } from './model.js';
export { Trainer, type TrainConfig } from './trainer.js';
