import { arrayFor, checkOptions, enableGrad, fmt, noGrad, SeqgradError, show, type Tensor, type kernels } from '@seqgrad/autograd';
import { toGroups, type ParamsInput } from './params.js';

/** Per-parameter optimizer state: counters and buffers shaped like the parameter. */
export type ParamState = Record<string, number | kernels.FloatArray | null>;

/** The options every optimizer has. */
export interface BaseOptions {
  lr: number;
}

/** A parameter group inside an optimizer: its tensors and its complete options. */
export type ParamGroup<O extends BaseOptions = BaseOptions> = O & {
  params: Tensor[];
  /** Set by the first learning-rate scheduler attached to the optimizer (PyTorch's `initial_lr`). */
  initialLr?: number;
};

/**
 * A plain, JSON-serialisable snapshot of an optimizer (PyTorch's layout): `state` keyed by
 * the parameter's position across all groups, `paramGroups` with options and positions.
 */
export interface OptimizerStateDict {
  state: Record<number, Record<string, number | number[] | null>>;
  paramGroups: (Record<string, unknown> & { params: number[] })[];
}

/**
 * The base of every optimizer: parameter groups with their own options, per-parameter
 * state, `zeroGrad`, `stateDict` / `loadStateDict`. A subclass implements `update`, the
 * in-place update of one parameter, and `validate`, the option checks.
 *
 * @example
 * const opt = new SGD([{ params: body.parameters() }, { params: head.parameters(), lr: 1e-2 }], { lr: 0.1 });
 * loss.backward(); opt.step(); opt.zeroGrad();
 * const saved = JSON.stringify(opt.stateDict());
 */
export abstract class Optimizer<O extends BaseOptions = BaseOptions> {
  /** The options a group gets for anything it does not set. */
  readonly defaults: Readonly<O>;
  readonly paramGroups: ParamGroup<O>[] = [];
  /** Per-parameter state, created on the parameter's first update. */
  readonly state = new Map<Tensor, ParamState>();

  /** What each option accepts, checked by `validate` in this order (see {@link OptionRules}). */
  private readonly optionRules: OptionRules<O> | undefined;

  protected constructor(params: ParamsInput, defaults: O, options: Partial<O> = {}, rules?: OptionRules<O>) {
    this.optionRules = rules;
    checkKnownOptions(this.constructor.name, options, defaults);
    this.defaults = Object.freeze({ ...defaults, ...options });
    const groups = toGroups(this.constructor.name, params);
    if (groups.every((g) => g.params.length === 0)) {
      throw new SeqgradError(this.constructor.name, 'optimizer got an empty parameter list');
    }
    for (const g of groups) this.addParamGroup({ params: g.params, ...g.options } as { params: Tensor[] } & Partial<O>);
  }

  /**
   * Checks one group's options against the rules given to the constructor; throws naming the
   * option. A subclass with checks that relate two options overrides it and calls `super.validate`.
   */
  protected validate(group: O): void {
    const rules = this.optionRules;
    if (!rules) return;
    const op = this.constructor.name;
    for (const key of Object.keys(rules) as (keyof O & string)[]) checkOptionRule(op, key, group[key], rules[key]);
  }

  /**
   * The per-parameter state this optimizer keeps, for `loadStateDict`: each key with its kind
   * (`step`: a non-negative integer; `buffer`: one number per element; `buffer?`: optional;
   * `buffer|null`: a buffer or null).
   */
  protected abstract readonly stateSchema: Readonly<Record<string, 'step' | 'buffer' | 'buffer?' | 'buffer|null'>>;

  /** Updates one parameter in place from its gradient, creating its state on the first call. */
  protected abstract update(p: Tensor, grad: ArrayLike<number>, state: ParamState, group: ParamGroup<O>): void;

  /** Adds a group, e.g. a layer unfrozen during fine-tuning. Options default to the optimizer's. */
  addParamGroup(group: { params: Iterable<Tensor> } & Partial<O> & { initialLr?: number }): void {
    const op = this.constructor.name;
    const { params, ...options } = group;
    checkKnownOptions(op, options, this.defaults, 'initialLr');
    const tensors = [...params];
    const seen = new Set(this.paramGroups.flatMap((g) => g.params));
    for (const p of tensors) {
      if (seen.has(p)) throw new SeqgradError(op, `a parameter ${p.toString()} appears in more than one parameter group`);
      if (p.dtype === 'int32') throw new SeqgradError(op, `can only optimize float tensors, got int32 ${p.toString()}`);
      if (!p.isLeaf) throw new SeqgradError(op, `can't optimize a non-leaf tensor ${p.toString()}`);
      seen.add(p);
    }
    const full = { ...this.defaults, ...options } as O;
    this.validate(full);
    this.paramGroups.push({ ...full, params: tensors });
  }

  /**
   * Updates every parameter that has a gradient, in place, under `noGrad`. Parameters whose
   * `.grad` is null are skipped (no state is created for them). With `closure`, it is called
   * first (with grad enabled) to recompute the loss, which is returned.
   */
  step(closure?: () => number): number | undefined {
    const loss = closure ? enableGrad(closure) : undefined;
    noGrad(this.updateAll);
    return loss;
  }

  /** One pass over every group and parameter; bound once so that a step allocates nothing. */
  private readonly updateAll = (): void => {
    const groups = this.paramGroups;
    for (let gi = 0; gi < groups.length; gi++) {
      const group = groups[gi]!;
      if (typeof group.lr !== 'number' || !Number.isFinite(group.lr) || group.lr < 0) {
        throw new SeqgradError(`${this.constructor.name}.step`, `paramGroups[${gi}].lr is ${show(group.lr)}; it must be a finite number >= 0`);
      }
      const params = group.params;
      for (let pi = 0; pi < params.length; pi++) {
        const p = params[pi]!;
        const grad = p.grad;
        if (!grad) continue;
        if (grad.size !== p.size) {
          throw new SeqgradError(`${this.constructor.name}.step`, `the gradient${fmt(grad.shape)} of parameter ${pi} in group ${gi} does not match its shape ${fmt(p.shape)}`);
        }
        let state = this.state.get(p);
        if (!state) {
          state = {};
          this.state.set(p, state);
        }
        this.update(p, grad.data, state, group);
        p.bumpVersion();
      }
    }
  };

  /**
   * Clears the gradients of every parameter: sets `.grad` to null (default, as PyTorch 2)
   * or, with `setToNone: false`, fills the existing gradient with zeros.
   */
  zeroGrad({ setToNone = true }: { setToNone?: boolean } = {}): void {
    for (const group of this.paramGroups) {
      for (const p of group.params) {
        if (!p.grad) continue;
        if (setToNone) p.grad = null;
        else {
          (p.grad.data as Float64Array).fill(0);
          p.grad.bumpVersion();
        }
      }
    }
  }

  /** A deep, JSON-serialisable copy of the state and the group options (see {@link OptimizerStateDict}). */
  stateDict(): OptimizerStateDict {
    const index = new Map<Tensor, number>();
    const paramGroups = this.paramGroups.map((group) => {
      const { params, ...options } = group;
      return {
        ...(options as Record<string, unknown>),
        params: params.map((p) => {
          if (!index.has(p)) index.set(p, index.size);
          return index.get(p)!;
        }),
      };
    });
    const state: OptimizerStateDict['state'] = {};
    for (const [p, s] of this.state) {
      const packed: Record<string, number | number[] | null> = {};
      for (const [k, v] of Object.entries(s)) packed[k] = v === null || typeof v === 'number' ? v : Array.from(v);
      state[index.get(p)!] = packed;
    }
    return { state, paramGroups };
  }

  /**
   * Restores a snapshot from {@link stateDict} (or its JSON) into an optimizer built over
   * the same parameters in the same groups: state buffers are copied into the parameters'
   * dtype and every group's options are replaced by the saved ones.
   */
  loadStateDict(sd: OptimizerStateDict): void {
    // Everything is checked first; the optimizer changes only once the whole dict is valid.
    const op = `${this.constructor.name}.loadStateDict`;
    if (!sd || typeof sd !== 'object' || !Array.isArray(sd.paramGroups) || !sd.state || typeof sd.state !== 'object') {
      throw new SeqgradError(op, `expected { state, paramGroups } as returned by stateDict(), got ${show(sd)}`);
    }
    if (sd.paramGroups.length !== this.paramGroups.length) {
      throw new SeqgradError(op, `the state dict has ${sd.paramGroups.length} parameter groups, this optimizer ${this.paramGroups.length}`);
    }
    const byIndex = new Map<number, Tensor>();
    sd.paramGroups.forEach((saved, gi) => {
      const params = this.paramGroups[gi]!.params;
      if (!saved || typeof saved !== 'object' || !Array.isArray(saved.params)) {
        throw new SeqgradError(op, `paramGroups[${gi}] must be an object with a params array of indices, got ${show(saved)}`);
      }
      if (saved.params.length !== params.length) {
        throw new SeqgradError(op, `parameter group ${gi} has ${saved.params.length} parameters in the state dict and ${params.length} here`);
      }
      saved.params.forEach((id, j) => {
        if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || byIndex.has(id)) {
          throw new SeqgradError(op, `paramGroups[${gi}].params[${j}] is ${show(id)}; params must be distinct non-negative integer indices`);
        }
        byIndex.set(id, params[j]!);
      });
    });
    const schema = this.stateSchema;
    const expected = Object.entries(schema).map(([k, kind]) => (kind === 'buffer?' ? `${k} (optional)` : k)).join(', ');
    const state = new Map<Tensor, ParamState>();
    for (const [key, saved] of Object.entries(sd.state)) {
      const p = byIndex.get(Number(key));
      if (!p) throw new SeqgradError(op, `state for parameter ${key}, which no parameter group lists`);
      if (!saved || typeof saved !== 'object') throw new SeqgradError(op, `the state of parameter ${key} must be an object, got ${show(saved)}`);
      const s: ParamState = {};
      for (const k of Object.keys(saved)) {
        if (!(k in schema)) {
          throw new SeqgradError(op, `the state of parameter ${key} has '${k}', which ${this.constructor.name} does not keep (its state is ${expected}); is this another optimizer's state dict?`);
        }
      }
      for (const [k, kind] of Object.entries(schema)) {
        const v: unknown = (saved as Record<string, unknown>)[k];
        const where = `state '${k}' of parameter ${key}`;
        if (v === undefined) {
          if (kind === 'buffer?') continue;
          throw new SeqgradError(op, `${where} is missing; ${this.constructor.name} keeps ${expected} per parameter`);
        }
        if (kind === 'step') {
          if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new SeqgradError(op, `${where} must be a non-negative integer step count, got ${show(v)}`);
          s[k] = v;
        } else if (v === null && kind === 'buffer|null') {
          s[k] = null;
        } else {
          if (!Array.isArray(v) && !ArrayBuffer.isView(v)) throw new SeqgradError(op, `${where} must be an array of ${p.size} numbers, got ${show(v)}`);
          const values = v as ArrayLike<unknown>;
          if (values.length !== p.size) throw new SeqgradError(op, `${where} has ${values.length} values, the parameter ${p.size} (shape ${fmt(p.shape)})`);
          for (let i = 0; i < values.length; i++) {
            if (typeof values[i] !== 'number') throw new SeqgradError(op, `${where} holds ${show(values[i])} at position ${i}; buffers hold numbers`);
          }
          const buf = arrayFor(p.dtype, p.size) as kernels.FloatArray;
          buf.set(values as ArrayLike<number>);
          s[k] = buf;
        }
      }
      state.set(p, s);
    }
    const groups = sd.paramGroups.map((saved, gi) => {
      const { params: _ids, ...options } = saved;
      checkKnownOptions(op, options, this.defaults, 'initialLr');
      const group = { ...(options as unknown as O), params: this.paramGroups[gi]!.params } as ParamGroup<O>;
      try {
        this.validate(group);
      } catch (e) {
        if (e instanceof SeqgradError) throw new SeqgradError(op, `paramGroups[${gi}]: ${e.message}`);
        throw e;
      }
      return group;
    });
    this.state.clear();
    for (const [p, s] of state) this.state.set(p, s);
    this.paramGroups.splice(0, this.paramGroups.length, ...groups);
  }
}

/** Throws naming the first key of `options` that `defaults` does not have (`also` is allowed too). */
function checkKnownOptions(op: string, options: object, defaults: object, also?: string): void {
  checkOptions(op, options, also ? [...Object.keys(defaults), also] : Object.keys(defaults));
}

/**
 * What one optimizer option accepts: a finite number at least `min` (and below `below` when
 * given), a pair of such numbers (Adam's betas), or a flag (true or false).
 */
export type OptionRule = { readonly min: number; readonly below?: number; readonly pair?: true } | 'flag';

/**
 * One rule for every option of `O`: an optimizer whose options interface gains a key without a
 * rule does not compile. Key order is the order of the checks.
 */
export type OptionRules<O> = { readonly [K in keyof O]-?: OptionRule };

/** A finite number ≥ min (and < below when given). */
export function numberIn(min: number, below?: number): OptionRule {
  return below === undefined ? { min } : { min, below };
}

/** A pair [x, y] of finite numbers, each in [min, below). */
export function pairIn(min: number, below: number): OptionRule {
  return { min, below, pair: true };
}

function checkOptionRule(op: string, option: string, value: unknown, rule: OptionRule): void {
  if (rule === 'flag') return checkFlag(op, option, value);
  if (rule.pair) {
    if (!Array.isArray(value) || value.length !== 2) {
      throw new SeqgradError(op, `invalid ${option}: ${show(value)} (expected a pair of numbers in [${rule.min}, ${rule.below}))`);
    }
    checkOption(op, `${option}[0]`, value[0], rule.min, rule.below);
    checkOption(op, `${option}[1]`, value[1], rule.min, rule.below);
    return;
  }
  checkOption(op, option, value, rule.min, rule.below);
}

/** Throws unless `value` is true or false, naming the option. */
function checkFlag(op: string, option: string, value: unknown): void {
  if (typeof value !== 'boolean') throw new SeqgradError(op, `invalid ${option}: ${show(value)} (expected true or false)`);
}

/** A zero-filled buffer shaped and typed like the parameter (allocated once, on the first step). */
export function stateBuffer(p: Tensor, fill = 0): kernels.FloatArray {
  const buf = arrayFor(p.dtype, p.size) as kernels.FloatArray;
  if (fill !== 0) buf.fill(fill);
  return buf;
}

/** Throws unless `value` is a number ≥ `min` (and < `below` when given), naming the option. */
function checkOption(op: string, option: string, value: unknown, min: number, below?: number): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || (below !== undefined && value >= below)) {
    const range = below === undefined ? (min === -Infinity ? 'finite number' : `finite number ≥ ${min}`) : `number in [${min}, ${below})`;
    throw new SeqgradError(op, `invalid ${option}: ${String(value)} (expected a ${range})`);
  }
}
