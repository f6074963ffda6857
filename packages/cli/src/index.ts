/**
 * seqgrad — the command line's building blocks, for scripts and tests: the tasks,
 * checkpoints (safetensors through @seqgrad/io), the report renderer and the program itself.
 */
export { buildProgram, main } from './program.js';
export { type Task, type TaskName, type Batch, TASK_NAMES, TASK_DEFAULTS, makeTask, addingTask, echoTask, charlmTask, vocabularyOf } from './tasks.js';
export { EMBEDDED_TEXT } from './text.js';
export {
  type CheckpointData, type CheckpointHeader, CHECKPOINT_FORMAT, encodeCheckpoint, parseCheckpointHeader, loadCheckpointTensors, specOf,
} from './checkpoint.js';
export { saveCheckpoint, readCheckpointHeader } from './checkpointFile.js';
export { type TrainConfig, LIMITS, validateConfig, checkConfigAgainstHeader, configSpec } from './config.js';
export { type ReportInput, type RunResult, renderReport, renderSvg, resultRows, textTable } from './report.js';
export { SequenceModel, type ModelConfig } from './sequenceModel.js';
export { loadCellFactory } from './cellModule.js';
export { STUDIES, studyCellPaths } from './study.js';
export { FIXED_SIZES, Trainer } from './trainer.js';
