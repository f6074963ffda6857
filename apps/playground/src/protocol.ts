/** The messages between the page and a training worker (one worker per run). */
import type { TaskName } from 'seqgrad/tasks';

/** Built-in layers, the cells of examples/cells/, or the editor's cell. */
export type CellChoice = 'rnn' | 'lstm' | 'gru' | 'peephole' | 'layernorm' | 'mgu' | 'custom';
export const BUILTIN_CELLS: readonly CellChoice[] = ['rnn', 'lstm', 'gru'];
export const EXAMPLE_CELLS: readonly CellChoice[] = ['peephole', 'layernorm', 'mgu'];

export interface RunConfig {
  cell: CellChoice;
  task: TaskName;
  hidden: number;
  batch: number;
  seqLen: number;
  /** echo: how many steps back the symbol to repeat is. */
  delay: number;
  lr: number;
  /** Max gradient norm, null for no clipping. */
  clip: number | null;
  seed: number;
  /** charlm: the text to learn (empty: the embedded one). */
  text: string;
  /** custom: the source of the cell factory `({ autograd, layers }, inputSize, hiddenSize, opts) => cell`. */
  code: string;
  /** LSTM: the initial forget-gate bias (null: PyTorch's initialisation). */
  forgetBias: number | null;
  /** A gradient-flow and gate measurement every this many steps. */
  probeEvery: number;
}

export type ToWorker =
  | { type: 'init'; config: RunConfig }
  | { type: 'run'; until?: number }
  | { type: 'pause' }
  | { type: 'step' }
  | { type: 'check' }
  | { type: 'save' }
  | { type: 'exportOnnx' }
  /** charlm: continue `prompt` by `length` characters drawn from the run's model (as `seqgrad sample` draws them). */
  | { type: 'sample'; prompt: string; length: number; temperature: number; seed: number }
  /** A file to load: a playground file or a `seqgrad train` checkpoint; `config` fills in what it does not hold. */
  | { type: 'load'; bytes: Uint8Array; name: string; config: RunConfig };

/** Where a user's cell failed: the line and column in the editor (1-based), when known. */
export interface CodeLocation {
  line: number;
  column: number;
}

export interface StepStats {
  step: number;
  loss: number;
  accuracy: number;
  /** Total gradient norm before clipping. */
  gradNorm: number;
  /** Wall time of this step in milliseconds. */
  ms: number;
}

export type FromWorker =
  /** `gemmThreads`: threads of the GEMM's pool (1: none, and `threadsNote` says why). */
  | { type: 'ready'; describe: string; params: number; gemmThreads: number; threadsNote: string | null }
  | { type: 'stats'; stats: StepStats[] }
  | { type: 'flow'; step: number; norms: number[] }
  | { type: 'gates'; step: number; names: string[]; T: number; H: number; values: number[][] }
  | { type: 'state'; running: boolean; step: number }
  | { type: 'check'; ok: boolean; lines: string[] }
  | { type: 'saved'; bytes: Uint8Array; name: string }
  | { type: 'sampled'; text: string }
  | { type: 'loaded'; source: string; config: RunConfig }
  | { type: 'error'; message: string; location: CodeLocation | null };
