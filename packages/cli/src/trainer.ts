/**
 * One training run: a task, a model, Adam with warmup-then-cosine learning rates, optional
 * gradient clipping, and a data generator whose state goes into every checkpoint, so that a
 * resumed run draws exactly the batches the uninterrupted run would have drawn.
 */
import { Generator, type Tensor, noGrad } from '@seqgrad/autograd';
import { Adam, CosineAnnealingLR, LinearLR, SequentialLR, clipGradNorm, gradNorm, type OptimizerStateDict } from '@seqgrad/optim';
import { type CheckpointData, checkStateDictMatches } from './checkpoint.js';
import { CliError } from './errors.js';
import { type ModelConfig, type SequenceModel, buildModel } from './model.js';
import { type Task, type TaskName, makeTask } from './tasks.js';

/** Everything that defines a run; stored in checkpoints. */
export interface TrainConfig {
  task: TaskName;
  cell: string;
  hidden: number;
  layers: number;
  bidirectional: boolean;
  steps: number;
  batch: number;
  lr: number;
  /** Max gradient norm, null for none. */
  clip: number | null;
  seed: number;
  seqLen: number;
  delay: number;
  symbols: number;
  embed: number;
  /** LSTM: initial forget-gate bias (absent: PyTorch's initialisation). */
  forgetBias?: number;
  /** charlm: the text file ('' for the embedded text), and the vocabulary. */
  text: string;
  vocab?: string[];
}

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

  /** A fresh run; `text` is the charlm training text (undefined: the embedded one). */
  static async create(config: TrainConfig, text?: string): Promise<Trainer> {
    const task = makeTask(config.task, { seqLen: config.seqLen, delay: config.delay, symbols: config.symbols, text, vocab: config.vocab });
    if (task.vocab) config.vocab = task.vocab;
    const modelConfig: ModelConfig = {
      cell: config.cell, hidden: config.hidden, layers: config.layers, bidirectional: config.bidirectional,
      inputKind: task.inputKind, inputSize: task.inputSize, outputSize: task.outputSize, readout: task.readout, embed: config.embed, forgetBias: config.forgetBias,
    };
    const model = await buildModel(modelConfig, config.seed);
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

  /** One optimisation step on a fresh batch. */
  trainStep(): StepStats {
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

  /** Loss and accuracy without training, on a batch from a separate generator. */
  evaluate(seed: number, batches = 4): { loss: number; accuracy: number } {
    const gen = new Generator(seed);
    let loss = 0;
    let acc = 0;
    noGrad(() => {
      for (let i = 0; i < batches; i++) {
        const batch = this.task.batch(this.config.batch, gen);
        const r = this.task.evaluate(this.model.forward(batch.input), batch);
        loss += r.loss.item() / batches;
        acc += r.accuracy / batches;
      }
    });
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
    };
  }

  /** Restores a checkpoint written by `checkpoint()` for the same config. */
  restore(ckpt: CheckpointData, source: string): void {
    checkStateDictMatches(source, ckpt.model, this.model.namedParameters());
    this.model.loadStateDict(ckpt.model);
    if (!ckpt.optimizer || !ckpt.scheduler || !ckpt.rng) throw new CliError(`${source}: the checkpoint has no optimizer, schedule or RNG state, so training cannot resume from it`);
    try {
      this.optimizer.loadStateDict(ckpt.optimizer as OptimizerStateDict);
      this.scheduler.loadStateDict(ckpt.scheduler as Parameters<SequentialLR['loadStateDict']>[0]);
      this.data.setState(ckpt.rng as Parameters<Generator['setState']>[0]);
    } catch (err) {
      throw new CliError(`${source}: corrupt checkpoint: ${(err as Error).message.split('\n')[0]}`);
    }
    this.step = ckpt.step;
  }
}
