/**
 * One run of the experiment (a task, a cell, a clipping setting), recording the loss,
 * accuracy and gradient norm over training and the gradient flow ‖dL/dh_t‖ at regular steps.
 * Runs in the main thread or in a worker thread (run-worker.ts).
 */
import type { FlowPoint, HistoryPoint, RunResult } from './report.js';
import { clipLabel } from './report.js';
import { loadCellFactory } from './cellModule.js';
import { type TrainConfig, Trainer } from './trainer.js';
import { regularizationText } from './config.js';

export interface RunSpec {
  config: TrainConfig;
  /** A custom cell's module, as the user gave it on the command line (its hash is config.cellSha256). */
  cellPath?: string;
  /** charlm text (undefined: the embedded one). */
  text?: string;
  /** A history point every this many steps. */
  logEvery: number;
  /** A gradient-flow measurement every this many steps. */
  flowEvery: number;
}

export type RunEvent = { type: 'progress'; step: number; loss: number; accuracy: number } | { type: 'done'; result: RunResult };

/** `lstm · clip 1`, with the dropout and zoneout when the run has any (`lstm · clip 1 · recurrent dropout 0.25`). */
export function runLabel(config: Pick<TrainConfig, 'cell' | 'clip' | 'inputDropout' | 'recurrentDropout' | 'zoneout'>): string {
  const reg = regularizationText(config);
  return `${config.cell} · ${clipLabel(config.clip)}${reg ? ` · ${reg}` : ''}`;
}

/**
 * Trains one run and returns its record. `shouldStop` is polled between steps (Ctrl-C): the run
 * then ends early and its record covers the steps done.
 */
export async function executeRun(spec: RunSpec, emit: (e: RunEvent) => void, shouldStop: () => boolean = () => false): Promise<RunResult> {
  const { config } = spec;
  const custom = spec.cellPath === undefined ? undefined : await loadCellFactory(spec.cellPath, config.cellSha256, config.cell);
  const trainer = Trainer.create(config, spec.text, custom?.factory);
  const history: HistoryPoint[] = [];
  const flow: FlowPoint[] = [];
  const probeSeed = config.seed + 5_000_011;
  const measureFlow = () => {
    const norms = trainer.gradientFlow(probeSeed);
    if (norms) norms.forEach((norm, t) => flow.push({ step: trainer.step, t, norm }));
  };
  const tail = Math.max(1, Math.ceil(config.steps / 10));
  let tailLoss = 0;
  let tailAcc = 0;
  let tailN = 0;
  let acc = { loss: 0, accuracy: 0, gradNorm: 0, n: 0 };
  let running = { loss: 0, accuracy: 0 };
  let diverged = false;
  const t0 = performance.now();
  measureFlow();
  while (trainer.step < config.steps && !shouldStop()) {
    const s = trainer.trainStep();
    if (!Number.isFinite(s.loss) || !Number.isFinite(s.gradNorm)) {
      diverged = true;
      history.push({ step: trainer.step, loss: s.loss, accuracy: s.accuracy, gradNorm: s.gradNorm });
      break;
    }
    acc = { loss: acc.loss + s.loss, accuracy: acc.accuracy + s.accuracy, gradNorm: acc.gradNorm + s.gradNorm, n: acc.n + 1 };
    const k = Math.min(trainer.step, 20);
    running = { loss: running.loss + (s.loss - running.loss) / k, accuracy: running.accuracy + (s.accuracy - running.accuracy) / k };
    if (config.steps - trainer.step < tail) {
      tailLoss += s.loss;
      tailAcc += s.accuracy;
      tailN++;
    }
    if (trainer.step % spec.logEvery === 0 || trainer.step === config.steps || shouldStop()) {
      history.push({ step: trainer.step, loss: acc.loss / acc.n, accuracy: acc.accuracy / acc.n, gradNorm: acc.gradNorm / acc.n });
      acc = { loss: 0, accuracy: 0, gradNorm: 0, n: 0 };
    }
    if (trainer.step % spec.flowEvery === 0 || trainer.step === config.steps || shouldStop()) measureFlow();
    emit({ type: 'progress', step: trainer.step, loss: running.loss, accuracy: running.accuracy });
    // Yield between steps so a Ctrl-C or a worker message is handled promptly.
    if (trainer.step % 8 === 0) await new Promise((r) => setImmediate(r));
  }
  const seconds = (performance.now() - t0) / 1000;
  const finalLoss = diverged ? NaN : tailN ? tailLoss / tailN : running.loss;
  const result: RunResult = {
    task: config.task,
    cell: config.cell,
    clip: config.clip,
    label: runLabel(config),
    history,
    flow,
    finalLoss,
    finalAccuracy: diverged ? NaN : tailN ? tailAcc / tailN : running.accuracy,
    bitsPerChar: config.task === 'charlm' ? finalLoss / Math.LN2 : undefined,
    diverged,
    stopped: !diverged && trainer.step < config.steps,
    steps: trainer.step,
    seconds,
    parameters: trainer.model.numParameters(),
  };
  emit({ type: 'done', result });
  return result;
}
