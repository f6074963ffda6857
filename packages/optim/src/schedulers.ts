import { checkOptions, SeqgradError, show } from '@seqgrad/autograd';
import { Optimizer } from './optimizer.js';

/** A scheduler's snapshot: plain numbers (and nested snapshots for SequentialLR). */
export type SchedulerStateDict = Record<string, unknown>;

/**
 * The base of the epoch/step-indexed schedules, with PyTorch's semantics
 * (`torch.optim.lr_scheduler`): the constructor records each group's `initialLr`, sets
 * `baseLrs` from it and performs step 0; each `step()` advances `lastEpoch` and writes the
 * new rate into every group's `lr`. Rates follow PyTorch's recursive ("chainable") formulas,
 * so they match it to the last bit of float64 and compose with other changes to `lr`.
 * Call `optimizer.step()` first, then `scheduler.step()`.
 */
export abstract class LRScheduler {
  readonly optimizer: Optimizer;
  /** Each group's starting rate (its `initialLr`). */
  baseLrs: number[];
  /** Index of the last step taken: 0 right after construction. */
  lastEpoch: number;
  /** How many times `step()` ran, counting the one in the constructor. */
  stepCount = 0;
  protected lastLr: number[] = [];

  /**
   * Checks the optimizer, `opts.lastEpoch` and that `opts` holds no key outside `known` (the
   * schedule's own options) and `lastEpoch`; the subclass then checks and stores its options.
   */
  protected constructor(optimizer: Optimizer, opts: { lastEpoch?: number }, known: readonly string[]) {
    checkOptimizer(new.target.name, optimizer);
    const lastEpoch = opts.lastEpoch ?? -1;
    if (!Number.isInteger(lastEpoch) || lastEpoch < -1) throw new SeqgradError(new.target.name, `lastEpoch must be an integer >= -1, got ${show(lastEpoch)}`);
    this.optimizer = optimizer;
    if (lastEpoch === -1) {
      for (const g of optimizer.paramGroups) g.initialLr ??= g.lr;
    } else {
      optimizer.paramGroups.forEach((g, i) => {
        if (g.initialLr === undefined) {
          throw new SeqgradError(this.constructor.name, `lastEpoch is ${lastEpoch} but paramGroups[${i}] has no initialLr; resume with a loaded optimizer state`);
        }
      });
    }
    this.baseLrs = optimizer.paramGroups.map((g) => g.initialLr!);
    this.lastEpoch = lastEpoch;
    checkOptions(new.target.name, opts, [...known, 'lastEpoch']);
  }

  /** The recursive rule: the rates at `lastEpoch` from the groups' current rates. */
  protected abstract computeLr(): number[];

  /** The closed form at `lastEpoch` from `baseLrs`, used by `step(epoch)`; defaults to `computeLr`. */
  protected closedFormLr(): number[] {
    return this.computeLr();
  }

  /** Subclasses call this last in their constructor (PyTorch's `_initial_step`). */
  initialStep(): void {
    this.stepCount = 0;
    this.step();
  }

  /**
   * Advances one step and sets every group's `lr`. With `epoch`, jumps there and uses the
   * closed form (what SequentialLR does at a milestone).
   */
  step(epoch?: number): void {
    this.stepCount += 1;
    let values: number[];
    if (epoch === undefined) {
      this.lastEpoch += 1;
      values = this.computeLr();
    } else {
      this.lastEpoch = epoch;
      values = this.closedFormLr();
    }
    values.forEach((v, i) => {
      if (!Number.isFinite(v) || v < 0) {
        throw new SeqgradError(this.constructor.name, `the lr of paramGroups[${i}] at step ${this.lastEpoch} would be ${v}; rates must be finite and >= 0`);
      }
    });
    this.optimizer.paramGroups.forEach((g, i) => (g.lr = values[i]!));
    this.lastLr = this.optimizer.paramGroups.map((g) => g.lr);
  }

  /** The rates set by the last `step()`, one per group. */
  getLastLr(): number[] {
    return [...this.lastLr];
  }

  /** A JSON-serialisable snapshot: the counters, the rates and the schedule's hyperparameters (functions excluded). */
  stateDict(): SchedulerStateDict {
    const own = this as unknown as Record<string, unknown>;
    const hyper = Object.fromEntries(this.hyperparameters().map((k) => [k, own[k]]));
    return { lastEpoch: this.lastEpoch, stepCount: this.stepCount, baseLrs: [...this.baseLrs], lastLr: [...this.lastLr], ...hyper };
  }

  loadStateDict(sd: SchedulerStateDict): void {
    const op = `${this.constructor.name}.loadStateDict`;
    const n = this.optimizer.paramGroups.length;
    const hyper = this.hyperparameters();
    checkStateDict(op, sd, {
      lastEpoch: 'integer', stepCount: 'integer', baseLrs: n, lastLr: n,
      ...Object.fromEntries(hyper.map((k) => [k, 'number' as const])),
    });
    this.lastEpoch = sd.lastEpoch as number;
    this.stepCount = sd.stepCount as number;
    this.baseLrs = [...(sd.baseLrs as number[])];
    this.lastLr = [...(sd.lastLr as number[])];
    const own = this as unknown as Record<string, unknown>;
    for (const k of hyper) own[k] = sd[k];
  }

  /** The names of the schedule's own numeric hyperparameters, saved in the state dict beside the counters. */
  protected hyperparameters(): readonly string[] {
    return [];
  }

  protected groupLrs(): number[] {
    return this.optimizer.paramGroups.map((g) => g.lr);
  }
}

/**
 * Warmup (or decay) by a linearly changing factor: lr = baseLr·f, f going from
 * `startFactor` at step 0 to `endFactor` at step `totalIters`, then constant.
 * Defaults: startFactor 1/3, endFactor 1, totalIters 5.
 *
 * @example
 * const warmup = new LinearLR(opt, { startFactor: 0.01, totalIters: 100 });
 * for (...) { opt.step(); warmup.step(); }
 */
export class LinearLR extends LRScheduler {
  startFactor: number;
  endFactor: number;
  totalIters: number;

  constructor(optimizer: Optimizer, opts: { startFactor?: number; endFactor?: number; totalIters?: number; lastEpoch?: number } = {}) {
    super(optimizer, opts, ['startFactor', 'endFactor', 'totalIters']);
    this.startFactor = opts.startFactor ?? 1 / 3;
    this.endFactor = opts.endFactor ?? 1;
    this.totalIters = opts.totalIters ?? 5;
    if (!Number.isInteger(this.totalIters) || this.totalIters < 1) {
      throw new SeqgradError('LinearLR', `totalIters must be a positive integer, got ${show(this.totalIters)}`);
    }
    if (!(this.startFactor > 0 && this.startFactor <= 1)) {
      throw new SeqgradError('LinearLR', `startFactor must be in (0, 1], got ${this.startFactor}`);
    }
    if (!(this.endFactor >= 0 && this.endFactor <= 1)) {
      throw new SeqgradError('LinearLR', `endFactor must be in [0, 1], got ${this.endFactor}`);
    }
    this.initialStep();
  }

  protected computeLr(): number[] {
    const lrs = this.groupLrs();
    if (this.lastEpoch === 0) return lrs.map((lr) => lr * this.startFactor);
    if (this.lastEpoch > this.totalIters) return lrs;
    const { startFactor: s, endFactor: e, totalIters: n } = this;
    return lrs.map((lr) => lr * (1 + (e - s) / (n * s + (this.lastEpoch - 1) * (e - s))));
  }

  protected override closedFormLr(): number[] {
    const { startFactor: s, endFactor: e, totalIters: n } = this;
    return this.baseLrs.map((b) => b * (s + ((e - s) * Math.min(n, this.lastEpoch)) / n));
  }

  protected override hyperparameters(): readonly (keyof LinearLR & string)[] {
    return ['startFactor', 'endFactor', 'totalIters'];
  }
}

/**
 * Cosine annealing (SGDR without restarts): lr = ηmin + (baseLr − ηmin)(1 + cos(π·t/tMax))/2,
 * computed recursively as PyTorch does. Default etaMin 0.
 *
 * @example
 * const cosine = new CosineAnnealingLR(opt, { tMax: 1000 });
 * for (...) { opt.step(); cosine.step(); }
 */
export class CosineAnnealingLR extends LRScheduler {
  tMax: number;
  etaMin: number;

  constructor(optimizer: Optimizer, opts: { tMax: number; etaMin?: number; lastEpoch?: number }) {
    super(optimizer, opts, ['tMax', 'etaMin']);
    if (!(opts.tMax > 0) || !Number.isFinite(opts.tMax)) throw new SeqgradError('CosineAnnealingLR', `tMax must be positive, got ${show(opts.tMax)}`);
    this.tMax = opts.tMax;
    this.etaMin = opts.etaMin ?? 0;
    checkRate('CosineAnnealingLR', 'etaMin', this.etaMin);
    this.initialStep();
  }

  protected computeLr(): number[] {
    const { tMax, etaMin, lastEpoch: t } = this;
    const lrs = this.groupLrs();
    if (t === 0) return lrs;
    // PyTorch's first step after construction with lastEpoch > 0 uses the closed form.
    if (this.stepCount === 1 && t > 0) return this.closedFormLr();
    if (pyMod(t - 1 - tMax, 2 * tMax) === 0) {
      return lrs.map((lr, i) => lr + ((this.baseLrs[i]! - etaMin) * (1 - Math.cos(Math.PI / tMax))) / 2);
    }
    return lrs.map(
      (lr) => ((1 + Math.cos((Math.PI * t) / tMax)) / (1 + Math.cos((Math.PI * (t - 1)) / tMax))) * (lr - etaMin) + etaMin,
    );
  }

  protected override closedFormLr(): number[] {
    const { tMax, etaMin, lastEpoch: t } = this;
    return this.baseLrs.map((b) => etaMin + ((b - etaMin) * (1 + Math.cos((Math.PI * t) / tMax))) / 2);
  }

  protected override hyperparameters(): readonly (keyof CosineAnnealingLR & string)[] {
    return ['tMax', 'etaMin'];
  }
}

/**
 * Multiplies the rate by `gamma` every `stepSize` steps. Default gamma 0.1.
 *
 * @example
 * const sched = new StepLR(opt, { stepSize: 30, gamma: 0.1 });
 * for (...) { opt.step(); sched.step(); }
 */
export class StepLR extends LRScheduler {
  stepSize: number;
  gamma: number;

  constructor(optimizer: Optimizer, opts: { stepSize: number; gamma?: number; lastEpoch?: number }) {
    super(optimizer, opts, ['stepSize', 'gamma']);
    if (!(Number.isInteger(opts.stepSize) && opts.stepSize > 0)) {
      throw new SeqgradError('StepLR', `stepSize must be a positive integer, got ${show(opts.stepSize)}`);
    }
    this.stepSize = opts.stepSize;
    this.gamma = opts.gamma ?? 0.1;
    checkRate('StepLR', 'gamma', this.gamma);
    this.initialStep();
  }

  protected computeLr(): number[] {
    const lrs = this.groupLrs();
    if (this.lastEpoch === 0 || this.lastEpoch % this.stepSize !== 0) return lrs;
    return lrs.map((lr) => lr * this.gamma);
  }

  protected override closedFormLr(): number[] {
    return this.baseLrs.map((b) => b * this.gamma ** Math.floor(this.lastEpoch / this.stepSize));
  }

  protected override hyperparameters(): readonly (keyof StepLR & string)[] {
    return ['stepSize', 'gamma'];
  }
}

/**
 * Multiplies the rate by `gamma` every step: lr = baseLr·γᵗ.
 *
 * @example
 * const sched = new ExponentialLR(opt, { gamma: 0.99 });
 * for (...) { opt.step(); sched.step(); }
 */
export class ExponentialLR extends LRScheduler {
  gamma: number;

  constructor(optimizer: Optimizer, opts: { gamma: number; lastEpoch?: number }) {
    super(optimizer, opts, ['gamma']);
    this.gamma = opts.gamma;
    checkRate('ExponentialLR', 'gamma', this.gamma);
    this.initialStep();
  }

  protected computeLr(): number[] {
    const lrs = this.groupLrs();
    if (this.lastEpoch === 0) return lrs;
    return lrs.map((lr) => lr * this.gamma);
  }

  protected override closedFormLr(): number[] {
    return this.baseLrs.map((b) => b * this.gamma ** this.lastEpoch);
  }

  protected override hyperparameters(): readonly (keyof ExponentialLR & string)[] {
    return ['gamma'];
  }
}

/**
 * lr = baseLr · λ(t), with one λ for all groups or one per group. The functions are not
 * part of the stateDict: rebuild the scheduler with them, then load the counters.
 *
 * @example
 * const sched = new LambdaLR(opt, { lrLambda: (t) => Math.min(1, (t + 1) / 100) });
 * for (...) { opt.step(); sched.step(); }
 */
export class LambdaLR extends LRScheduler {
  readonly lrLambdas: ((epoch: number) => number)[];

  constructor(optimizer: Optimizer, opts: { lrLambda: ((epoch: number) => number) | ((epoch: number) => number)[]; lastEpoch?: number }) {
    super(optimizer, opts, ['lrLambda']);
    this.lrLambdas = perGroup('LambdaLR', 'lrLambdas', opts.lrLambda, optimizer);
    this.lrLambdas.forEach((f, i) => {
      if (typeof f !== 'function') throw new SeqgradError('LambdaLR', `lrLambda${this.lrLambdas.length > 1 ? `[${i}]` : ''} must be a function of the epoch, got ${show(f)}`);
    });
    this.initialStep();
  }

  protected computeLr(): number[] {
    return this.baseLrs.map((b, i) => b * this.lrLambdas[i]!(this.lastEpoch));
  }
}

/**
 * Runs `schedulers[0]` until `milestones[0]`, then `schedulers[1]` (restarted at its
 * step 0), and so on: the usual warmup-then-cosine. All schedulers must share the optimizer.
 *
 * @example
 * const warmup = new LinearLR(opt, { startFactor: 0.1, totalIters: 100 });
 * const cosine = new CosineAnnealingLR(opt, { tMax: 900 });
 * const sched = new SequentialLR(opt, { schedulers: [warmup, cosine], milestones: [100] });
 */
export class SequentialLR {
  readonly optimizer: Optimizer;
  readonly schedulers: LRScheduler[];
  milestones: number[];
  lastEpoch: number;
  private lastLr: number[];

  constructor(optimizer: Optimizer, opts: { schedulers: LRScheduler[]; milestones: number[]; lastEpoch?: number }) {
    checkOptimizer('SequentialLR', optimizer);
    checkOptions('SequentialLR', opts, ['schedulers', 'milestones', 'lastEpoch']);
    const { schedulers, milestones } = opts;
    if (!Array.isArray(schedulers) || schedulers.length === 0) {
      throw new SeqgradError('SequentialLR', `schedulers must be a non-empty array of LRSchedulers, got ${show(schedulers)}`);
    }
    if (!Array.isArray(milestones) || milestones.some((m, i) => !Number.isInteger(m) || m < 1 || (i > 0 && m <= milestones[i - 1]!))) {
      throw new SeqgradError('SequentialLR', `milestones must be an increasing array of positive integers, got ${show(milestones)}`);
    }
    schedulers.forEach((s, i) => {
      if (!(s instanceof LRScheduler)) throw new SeqgradError('SequentialLR', `schedulers[${i}] must be an LRScheduler, got ${show(s)}`);
      if (s.optimizer !== optimizer) {
        throw new SeqgradError('SequentialLR', `schedulers[${i}] belongs to a different optimizer; all schedulers must share the one passed in`);
      }
    });
    if (milestones.length !== schedulers.length - 1) {
      throw new SeqgradError('SequentialLR', `expected ${schedulers.length - 1} milestones for ${schedulers.length} schedulers, got ${milestones.length}`);
    }
    this.optimizer = optimizer;
    this.schedulers = schedulers;
    this.milestones = [...milestones];
    this.lastEpoch = (opts.lastEpoch ?? -1) + 1;
    // Undo what constructing the schedulers did, then start the first one (as PyTorch 1.13–2.x).
    for (const g of optimizer.paramGroups) g.lr = g.initialLr!;
    for (const s of schedulers) s.lastEpoch -= 1;
    schedulers[0]!.initialStep();
    this.lastLr = schedulers[0]!.getLastLr();
  }

  step(): void {
    this.lastEpoch += 1;
    const idx = bisectRight(this.milestones, this.lastEpoch);
    const scheduler = this.schedulers[idx]!;
    if (idx > 0 && this.milestones[idx - 1] === this.lastEpoch) scheduler.step(0);
    else scheduler.step();
    this.lastLr = scheduler.getLastLr();
  }

  getLastLr(): number[] {
    return [...this.lastLr];
  }

  stateDict(): SchedulerStateDict {
    return { lastEpoch: this.lastEpoch, milestones: [...this.milestones], lastLr: [...this.lastLr], schedulers: this.schedulers.map((s) => s.stateDict()) };
  }

  loadStateDict(sd: SchedulerStateDict): void {
    const op = 'SequentialLR.loadStateDict';
    checkStateDict(op, sd, { lastEpoch: 'integer', milestones: this.milestones.length, lastLr: this.optimizer.paramGroups.length, schedulers: 'array' });
    if ((sd.schedulers as unknown[]).length !== this.schedulers.length) {
      throw new SeqgradError(op, `the state dict has ${(sd.schedulers as unknown[]).length} schedulers, this SequentialLR ${this.schedulers.length}`);
    }
    this.lastEpoch = sd.lastEpoch as number;
    this.milestones = [...(sd.milestones as number[])];
    this.lastLr = [...(sd.lastLr as number[])];
    (sd.schedulers as SchedulerStateDict[]).forEach((s, i) => this.schedulers[i]!.loadStateDict(s));
  }
}

export interface ReduceLROnPlateauOptions {
  /** 'min': reduce when the metric stops falling; 'max': when it stops rising. Default 'min'. */
  mode?: 'min' | 'max';
  /** new lr = lr·factor. Default 0.1. */
  factor?: number;
  /** Bad steps tolerated before reducing. Default 10. */
  patience?: number;
  /** What counts as an improvement (see thresholdMode). Default 1e-4. */
  threshold?: number;
  /** 'rel': better than best·(1 ∓ threshold); 'abs': better than best ∓ threshold. Default 'rel'. */
  thresholdMode?: 'rel' | 'abs';
  /** Steps to wait after a reduction before counting bad steps again. Default 0. */
  cooldown?: number;
  /** Lower bound of the rate, one for all groups or one per group. Default 0. */
  minLr?: number | number[];
  /** Reductions smaller than eps are skipped. Default 1e-8. */
  eps?: number;
}

/**
 * Divides the rate by 1/factor when a metric has not improved for `patience` steps
 * (`torch.optim.lr_scheduler.ReduceLROnPlateau`). Pass the metric to `step(metric)`.
 *
 * @example
 * const plateau = new ReduceLROnPlateau(opt, { patience: 5, factor: 0.5 });
 * for (...) { train(); plateau.step(validationLoss()); }
 */
export class ReduceLROnPlateau {
  readonly optimizer: Optimizer;
  mode: 'min' | 'max';
  factor: number;
  patience: number;
  threshold: number;
  thresholdMode: 'rel' | 'abs';
  cooldown: number;
  minLrs: number[];
  eps: number;
  best: number;
  numBadEpochs = 0;
  cooldownCounter = 0;
  lastEpoch = 0;
  private lastLr: number[];

  constructor(optimizer: Optimizer, opts: ReduceLROnPlateauOptions = {}) {
    checkOptimizer('ReduceLROnPlateau', optimizer);
    checkOptions('ReduceLROnPlateau', opts, ['mode', 'factor', 'patience', 'threshold', 'thresholdMode', 'cooldown', 'minLr', 'eps']);
    this.optimizer = optimizer;
    this.mode = opts.mode ?? 'min';
    this.factor = opts.factor ?? 0.1;
    this.patience = opts.patience ?? 10;
    this.threshold = opts.threshold ?? 1e-4;
    this.thresholdMode = opts.thresholdMode ?? 'rel';
    this.cooldown = opts.cooldown ?? 0;
    this.eps = opts.eps ?? 1e-8;
    if (!(this.factor < 1 && this.factor >= 0)) throw new SeqgradError('ReduceLROnPlateau', `factor must be in [0, 1), got ${show(this.factor)}`);
    for (const [name, v] of [['patience', this.patience], ['cooldown', this.cooldown]] as const) {
      if (!Number.isInteger(v) || v < 0) throw new SeqgradError('ReduceLROnPlateau', `${name} must be a non-negative integer, got ${show(v)}`);
    }
    checkRate('ReduceLROnPlateau', 'threshold', this.threshold);
    checkRate('ReduceLROnPlateau', 'eps', this.eps);
    if (this.mode !== 'min' && this.mode !== 'max') throw new SeqgradError('ReduceLROnPlateau', `mode must be 'min' or 'max', got '${String(this.mode)}'`);
    if (this.thresholdMode !== 'rel' && this.thresholdMode !== 'abs') {
      throw new SeqgradError('ReduceLROnPlateau', `thresholdMode must be 'rel' or 'abs', got '${String(this.thresholdMode)}'`);
    }
    this.minLrs = perGroup('ReduceLROnPlateau', 'minLr values', opts.minLr ?? 0, optimizer);
    this.minLrs.forEach((m) => checkRate('ReduceLROnPlateau', 'minLr', m));
    this.best = this.mode === 'min' ? Infinity : -Infinity;
    this.lastLr = optimizer.paramGroups.map((g) => g.lr);
  }

  /** Records one value of the metric and reduces the rate if it has stalled. */
  step(metric: number): void {
    // PyTorch accepts a NaN metric and counts it as a bad epoch; a NaN loss is a bug to report, not a plateau.
    if (typeof metric !== 'number' || !Number.isFinite(metric)) {
      throw new SeqgradError('ReduceLROnPlateau.step', `metric must be a finite number, got ${show(metric)}`);
    }
    this.lastEpoch += 1;
    if (this.isBetter(metric, this.best)) {
      this.best = metric;
      this.numBadEpochs = 0;
    } else {
      this.numBadEpochs += 1;
    }
    if (this.cooldownCounter > 0) {
      this.cooldownCounter -= 1;
      this.numBadEpochs = 0;
    }
    if (this.numBadEpochs > this.patience) {
      this.optimizer.paramGroups.forEach((g, i) => {
        const newLr = Math.max(g.lr * this.factor, this.minLrs[i]!);
        if (g.lr - newLr > this.eps) g.lr = newLr;
      });
      this.cooldownCounter = this.cooldown;
      this.numBadEpochs = 0;
    }
    this.lastLr = this.optimizer.paramGroups.map((g) => g.lr);
  }

  private isBetter(a: number, best: number): boolean {
    if (this.mode === 'min') return this.thresholdMode === 'rel' ? a < best * (1 - this.threshold) : a < best - this.threshold;
    return this.thresholdMode === 'rel' ? a > best * (this.threshold + 1) : a > best + this.threshold;
  }

  getLastLr(): number[] {
    return [...this.lastLr];
  }

  /** A JSON-friendly snapshot; an infinite `best` (nothing seen yet) is kept as ±Infinity, which JSON writes as null. */
  stateDict(): SchedulerStateDict {
    const { mode, factor, patience, threshold, thresholdMode, cooldown, eps, best, numBadEpochs, cooldownCounter, lastEpoch } = this;
    return { mode, factor, patience, threshold, thresholdMode, cooldown, minLrs: [...this.minLrs], eps, best, numBadEpochs, cooldownCounter, lastEpoch, lastLr: [...this.lastLr] };
  }

  loadStateDict(sd: SchedulerStateDict): void {
    const n = this.optimizer.paramGroups.length;
    checkStateDict('ReduceLROnPlateau.loadStateDict', sd, {
      mode: 'string', factor: 'number', patience: 'integer', threshold: 'number', thresholdMode: 'string', cooldown: 'integer',
      minLrs: n, eps: 'number', numBadEpochs: 'integer', cooldownCounter: 'integer', lastEpoch: 'integer', lastLr: n,
    }, ['best']);
    this.mode = sd.mode as 'min' | 'max';
    this.factor = sd.factor as number;
    this.patience = sd.patience as number;
    this.threshold = sd.threshold as number;
    this.thresholdMode = sd.thresholdMode as 'rel' | 'abs';
    this.cooldown = sd.cooldown as number;
    this.minLrs = [...(sd.minLrs as number[])];
    this.eps = sd.eps as number;
    // JSON turns ±Infinity into null: null means "nothing seen yet".
    this.best = typeof sd.best === 'number' ? sd.best : this.mode === 'min' ? Infinity : -Infinity;
    this.numBadEpochs = sd.numBadEpochs as number;
    this.cooldownCounter = sd.cooldownCounter as number;
    this.lastEpoch = sd.lastEpoch as number;
    this.lastLr = [...(sd.lastLr as number[])];
  }
}

function checkOptimizer(op: string, optimizer: unknown): void {
  if (!(optimizer instanceof Optimizer)) throw new SeqgradError(op, `optimizer must be an Optimizer (SGD, Adam, ...), got ${show(optimizer)}`);
}

/** A rate or factor of a schedule: finite and >= 0. */
function checkRate(op: string, name: string, v: unknown): void {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new SeqgradError(op, `${name} must be a finite number >= 0, got ${show(v)}`);
}

/**
 * Checks a scheduler snapshot before anything is restored: every key of `want` present with
 * its kind (a number of entries means an array of that many numbers), and no other key
 * except `optional` ones.
 */
function checkStateDict(
  op: string, sd: unknown, want: Record<string, 'integer' | 'number' | 'string' | 'array' | number>, optional: readonly string[] = [],
): void {
  if (sd === null || typeof sd !== 'object' || Array.isArray(sd)) throw new SeqgradError(op, `expected a state dict as stateDict() returns, got ${show(sd)}`);
  const keys = Object.keys(want);
  for (const k of Object.keys(sd)) {
    if (!(k in want) && !optional.includes(k)) throw new SeqgradError(op, `unexpected key '${k}'; the state dict holds ${keys.join(', ')} (is it another scheduler's?)`);
  }
  for (const [k, kind] of Object.entries(want)) {
    const v = (sd as Record<string, unknown>)[k];
    const ok = kind === 'integer' ? Number.isInteger(v)
      : kind === 'number' ? typeof v === 'number' && !Number.isNaN(v)
      : kind === 'string' ? typeof v === 'string'
      : kind === 'array' ? Array.isArray(v)
      : Array.isArray(v) && v.length === kind && v.every((x) => typeof x === 'number');
    if (!ok) {
      const what = typeof kind === 'number' ? `an array of ${kind} numbers` : kind === 'integer' ? 'an integer' : `a ${kind}`;
      throw new SeqgradError(op, `'${k}' must be ${what}, got ${show(v)}; the state dict holds ${keys.join(', ')}`);
    }
  }
}

/** One value for every parameter group: an array checked to have one per group, or a single value repeated. */
function perGroup<T>(op: string, what: string, value: T | readonly T[], optimizer: Optimizer): T[] {
  const n = optimizer.paramGroups.length;
  if (!Array.isArray(value)) return Array.from({ length: n }, () => value as T);
  if (value.length !== n) throw new SeqgradError(op, `expected ${n} ${what} (one per group), got ${value.length}`);
  return [...value];
}

/** Python's a % b (the sign of b). */
function pyMod(a: number, b: number): number {
  return ((a % b) + b) % b;
}

function bisectRight(sorted: readonly number[], x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (x < sorted[mid]!) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
