/**
 * One training run: a task, a model, Adam with warmup-then-cosine learning rates, optional
 * gradient clipping, and a data generator whose state goes into every checkpoint, so that a
 * resumed run draws exactly the batches the uninterrupted run would have drawn.
 */
import { Generator, type Tensor, noGrad } from '@seqgrad/autograd';
import { Adam, CosineAnnealingLR, LinearLR, SequentialLR, clipGradNorm, gradNorm, type OptimizerStateDict } from '@seqgrad/optim';
import { type CheckpointData } from './checkpoint.js';
import { type Regularization, type TrainConfig } from './config.js';
import { CliError } from './errors.js';
import { type CellFactory, type ModelConfig, type SequenceModel, buildModel } from './sequenceModel.js';
import { type Task, makeTask } from './tasks.js';

export type { TrainConfig } from './config.js';

/** The sizes every CLI run uses and no flag sets: echo's alphabet and the token embedding. */
export const FIXED_SIZES = { symbols: 8, embed: 16 } as const satisfies Pick<TrainConfig, 'symbols' | 'embed'>;

export interface StepStats {
  loss: number;
  accuracy: number;
  /** Total gradient norm before clipping. */
  gradNorm: number;
}

/** Warmup over the first 10% of the steps (at most 100), then cosine down to lr/10. */
export function warmupSteps(steps: number): number {
  return Math.max(1, Math.min(100, Math.floor(steps / 10)));
}

export class Trainer {
  step = 0;
  /** The model's parameters, listed once (loading a checkpoint writes into these same tensors). */
  private readonly params: Tensor[];

  private constructor(
    readonly config: TrainConfig,
    readonly task: Task,
    readonly model: SequenceModel,
    readonly optimizer: Adam,
    readonly scheduler: SequentialLR,
    readonly data: Generator,
  ) {
    this.params = model.parameters();
  }

  /**
   * A fresh run; `text` is the charlm training text (undefined: the embedded one), `cellFactory`
   * builds a custom cell (the module the user named, never one a checkpoint names).
   */
  static create(config: TrainConfig, text?: string, cellFactory?: CellFactory): Trainer {
    const task = makeTask(config.task, { seqLen: config.seqLen, delay: config.delay, symbols: config.symbols, text, vocab: config.vocab });
    if (task.vocab) config.vocab = task.vocab;
    const modelConfig: ModelConfig = {
      cell: config.cell, hidden: config.hidden, layers: config.layers, bidirectional: config.bidirectional,
      inputKind: task.inputKind, inputSize: task.inputSize, outputSize: task.outputSize, readout: task.readout, embed: config.embed, forgetBias: config.forgetBias,
      regularization: regularizationIn(config),
    };
    const model = buildModel(modelConfig, config.seed, cellFactory);
    const optimizer = new Adam(model.parameters(), { lr: config.lr });
    const warm = warmupSteps(config.steps);
    const scheduler = new SequentialLR(optimizer, {
      schedulers: [
        new LinearLR(optimizer, { startFactor: 0.1, endFactor: 1, totalIters: warm }),
        new CosineAnnealingLR(optimizer, { tMax: Math.max(1, config.steps - warm), etaMin: config.lr / 10 }),
      ],
      milestones: [warm],
    });
    // The data stream is seeded apart from the initialisation, so models of different
    // sizes trained with the same seed see the same batches.
    const data = new Generator(config.seed + 1_000_003);
    return new Trainer(config, task, model, optimizer, scheduler, data);
  }

  /** One optimisation step on a fresh batch (training mode: dropout and zoneout masks drawn). */
  trainStep(): StepStats {
    this.model.train();
    const batch = this.task.batch(this.config.batch, this.data);
    const out = this.model.forward(batch.input);
    const { loss, accuracy } = this.task.evaluate(out, batch);
    this.optimizer.zeroGrad();
    loss.backward();
    const norm = this.config.clip === null ? gradNorm(this.params) : clipGradNorm(this.params, this.config.clip);
    this.optimizer.step();
    this.scheduler.step();
    this.step += 1;
    return { loss: loss.item(), accuracy, gradNorm: norm };
  }

  /** ‖dL/dh_t‖ for every t on a probe batch drawn from its own generator (the run's stream is untouched). */
  gradientFlow(probeSeed: number): number[] | null {
    const batch = this.task.batch(this.config.batch, new Generator(probeSeed));
    return this.model.gradientFlow(batch.input, (out) => this.task.evaluate(out, batch).loss);
  }

  /** Loss and accuracy without training (evaluation mode: no masks), on batches from a separate generator. */
  evaluate(seed: number, batches = 4): { loss: number; accuracy: number } {
    const gen = new Generator(seed);
    let loss = 0;
    let acc = 0;
    this.model.eval();
    noGrad(() => {
      for (let i = 0; i < batches; i++) {
        const batch = this.task.batch(this.config.batch, gen);
        const r = this.task.evaluate(this.model.forward(batch.input), batch);
        loss += r.loss.item() / batches;
        acc += r.accuracy / batches;
      }
    });
    this.model.train();
    return { loss, accuracy: acc };
  }

  /** Everything needed to continue bit for bit. */
  checkpoint(): CheckpointData {
    return {
      config: { ...this.config },
      step: this.step,
      model: this.model.stateDict(),
      optimizer: this.optimizer.stateDict(),
      scheduler: this.scheduler.stateDict(),
      rng: this.data.getState(),
      // The mask generator only when masks are drawn, so a run without them writes what it always did.
      ...(this.regularized ? { maskRng: this.model.generator.getState() } : {}),
    };
  }

  /** Whether this run draws dropout or zoneout masks (from the model's generator). */
  get regularized(): boolean {
    return Object.keys(regularizationIn(this.config)).length > 0;
  }

  /** Loads a checkpoint's model weights (already checked against this model's parameters). */
  restoreWeights(ckpt: CheckpointData): void {
    this.model.loadStateDict(ckpt.model);
  }

  /**
   * Restores a checkpoint written by `checkpoint()` for the same config: the weights, and the
   * optimizer's, schedule's and data generator's states, each checked to have the form this
   * run's own have before it is loaded.
   */
  restore(ckpt: CheckpointData, source: string): void {
    if (!ckpt.optimizer || !ckpt.scheduler || !ckpt.rng) throw new CliError(`${source}: the checkpoint has no optimizer, schedule or RNG state, so training cannot resume from it`);
    const corrupt = (what: string, why: string) => new CliError(`${source}: corrupt checkpoint: ${what} ${why}`);
    const schedWhy = differsInForm(this.scheduler.stateDict(), ckpt.scheduler, 'state');
    if (schedWhy) throw corrupt('learning-rate schedule', schedWhy);
    const rngWhy = differsInForm(this.data.getState(), ckpt.rng, 'state');
    if (rngWhy) throw corrupt('data generator', rngWhy);
    if (this.regularized) {
      if (ckpt.maskRng === undefined) throw corrupt('mask generator', 'is missing, though the config has dropout or zoneout');
      const maskWhy = differsInForm(this.model.generator.getState(), ckpt.maskRng, 'state');
      if (maskWhy) throw corrupt('mask generator', maskWhy);
    }
    const optWhy = optimizerStateProblem(this.optimizer.stateDict(), ckpt.optimizer, this.params.map((p) => p.size));
    if (optWhy) throw corrupt('optimizer state', optWhy);
    this.restoreWeights(ckpt);
    try {
      this.optimizer.loadStateDict(ckpt.optimizer as OptimizerStateDict);
      this.scheduler.loadStateDict(ckpt.scheduler as Parameters<SequentialLR['loadStateDict']>[0]);
      this.data.setState(ckpt.rng as Parameters<Generator['setState']>[0]);
      if (this.regularized) this.model.generator.setState(ckpt.maskRng as Parameters<Generator['setState']>[0]);
    } catch (err) {
      throw new CliError(`${source}: corrupt checkpoint: ${(err as Error).message.split('\n')[0]}`);
    }
    this.step = ckpt.step;
  }
}

/** The dropout and zoneout settings a (validated) config holds. */
function regularizationIn(c: TrainConfig): Regularization {
  const out: Regularization = {};
  if (c.inputDropout) out.inputDropout = c.inputDropout;
  if (c.recurrentDropout) out.recurrentDropout = c.recurrentDropout;
  if (c.zoneout !== undefined) out.zoneout = c.zoneout;
  return out;
}

/** Where `got` differs in form from `want` (other keys, types or array lengths); null when alike. */
export function differsInForm(want: unknown, got: unknown, path: string): string | null {
  const kind = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : ArrayBuffer.isView(v) ? 'array' : typeof v);
  if (kind(want) !== kind(got)) return `${path} is ${kind(got)}, expected ${kind(want)}`;
  if (Array.isArray(want) || ArrayBuffer.isView(want)) {
    const w = want as ArrayLike<unknown>;
    const g = got as ArrayLike<unknown>;
    if (w.length !== g.length) return `${path} has ${g.length} entries, expected ${w.length}`;
    for (let i = 0; i < w.length; i++) {
      const why = differsInForm(w[i], g[i], `${path}[${i}]`);
      if (why) return why;
    }
    return null;
  }
  if (kind(want) === 'object') {
    const wk = Object.keys(want as object).sort();
    const gk = Object.keys(got as object).sort();
    const extra = gk.filter((k) => !wk.includes(k));
    const missing = wk.filter((k) => !gk.includes(k));
    if (extra.length || missing.length) return `${path} has keys ${JSON.stringify(gk)}, expected ${JSON.stringify(wk)}`;
    for (const k of wk) {
      const why = differsInForm((want as Record<string, unknown>)[k], (got as Record<string, unknown>)[k], `${path}.${k}`);
      if (why) return why;
    }
    return null;
  }
  if (typeof got === 'number' && !Number.isFinite(got) && Number.isFinite(want)) return `${path} is ${got}`;
  return null;
}

/** Checks an optimizer state dict against a fresh one's groups and the parameters' sizes. */
function optimizerStateProblem(fresh: OptimizerStateDict, got: unknown, sizes: readonly number[]): string | null {
  if (!got || typeof got !== 'object') return 'is not an object';
  const sd = got as { paramGroups?: unknown; state?: unknown };
  const groups = differsInForm(fresh.paramGroups, sd.paramGroups, 'paramGroups');
  if (groups) return groups;
  if (!sd.state || typeof sd.state !== 'object' || Array.isArray(sd.state)) return 'state is not an object';
  for (const [key, entry] of Object.entries(sd.state)) {
    const index = Number(key);
    if (!/^\d+$/.test(key) || index >= sizes.length) return `state has an entry '${key}' for no parameter (there are ${sizes.length})`;
    if (!entry || typeof entry !== 'object') return `state '${key}' is not an object`;
    for (const [field, v] of Object.entries(entry)) {
      if (typeof v === 'number') {
        if (!Number.isFinite(v)) return `state '${key}'.${field} is ${v}`;
      } else if (Array.isArray(v) || ArrayBuffer.isView(v)) {
        const arr = v as ArrayLike<unknown>;
        if (arr.length !== sizes[index]) return `state '${key}'.${field} has ${arr.length} values for a parameter of ${sizes[index]}`;
        for (let i = 0; i < arr.length; i++) if (typeof arr[i] !== 'number' || !Number.isFinite(arr[i] as number)) return `state '${key}'.${field}[${i}] is not a finite number`;
      } else if (v !== null && typeof v !== 'boolean') return `state '${key}'.${field} is a ${typeof v}`;
    }
  }
  return null;
}
