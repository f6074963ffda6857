import { SeqgradError, Tensor, checkOptions, fmt, noGrad, show } from '@seqgrad/autograd';

/** A state dict: parameter name (PyTorch's dotted names) → tensor. */
export type StateDict = Record<string, Tensor>;

/** What `loadStateDict` found, as PyTorch's `_IncompatibleKeys`. */
export interface LoadResult {
  missingKeys: string[];
  unexpectedKeys: string[];
}

/**
 * The base of every layer: a tree of named parameters and named child modules, like
 * `torch.nn.Module`. Subclasses register what they own with `registerParameter` and
 * `registerModule`; names join with dots (`layers.0.weight_ih_l0`).
 *
 * @example
 * const lin = new Linear(3, 2);
 * lin.namedParameters().map(([n]) => n); // ['weight', 'bias']
 * lin.loadStateDict(lin.stateDict());
 */
export class Module {
  /** Training mode (dropout active); set with `train()` / `eval()`. */
  training = true;
  private readonly paramSlots = new Map<string, Tensor | null>();
  private readonly childSlots = new Map<string, Module>();

  /** Registers a parameter (a leaf tensor that requires grad; null for an absent bias). */
  registerParameter<T extends Tensor | null>(name: string, t: T): T {
    if (name.includes('.') || name === '') throw new SeqgradError('Module.registerParameter', `invalid name '${name}'`);
    if (t !== null) {
      if (!t.isLeaf) throw new SeqgradError('Module.registerParameter', `'${name}' must be a leaf tensor (got one computed by an op)`);
      t.requiresGrad = true;
      t.name ??= name;
    }
    this.paramSlots.set(name, t);
    return t;
  }

  /** Registers a child module; its parameters appear under `name.`. */
  registerModule<M extends Module>(name: string, m: M): M {
    if (name.includes('.') || name === '') throw new SeqgradError('Module.registerModule', `invalid name '${name}'`);
    if (!(m instanceof Module)) throw new SeqgradError('Module.registerModule', `'${name}' must be a Module`);
    this.childSlots.set(name, m);
    return m;
  }

  /** Direct children, in registration order, with their names. */
  namedChildren(): [string, Module][] {
    return [...this.childSlots];
  }
  children(): Module[] {
    return [...this.childSlots.values()];
  }
  /** This module and every descendant, depth first. */
  modules(): Module[] {
    const out: Module[] = [this];
    for (const c of this.childSlots.values()) out.push(...c.modules());
    return out;
  }

  /** Every parameter with its dotted name, own parameters first, then each child's. */
  namedParameters(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [n, p] of this.paramSlots) if (p) out.push([prefix + n, p]);
    for (const [n, c] of this.childSlots) out.push(...c.namedParameters(`${prefix}${n}.`));
    return out;
  }
  parameters(): Tensor[] {
    return this.namedParameters().map(([, p]) => p);
  }
  /** Total number of scalar parameters. */
  numParameters(): number {
    return this.parameters().reduce((n, p) => n + p.size, 0);
  }

  /** Copies of every parameter (detached, own buffers), keyed by dotted name. */
  stateDict(): StateDict {
    const sd: StateDict = {};
    for (const [n, p] of this.namedParameters()) sd[n] = new Tensor(p.data.slice(), p.shape);
    return sd;
  }

  /**
   * Copies values from `sd` into the parameters in place (converting dtype if needed).
   * Shapes must match. With `strict` (default) a missing or unexpected key is an error
   * that lists them all; without it they are returned.
   */
  loadStateDict(sd: StateDict | Map<string, Tensor>, opts: { strict?: boolean } = {}): LoadResult {
    const op = `${this.constructor.name}.loadStateDict`;
    checkOptions(op, opts, ['strict']);
    if (sd === null || typeof sd !== 'object' || Array.isArray(sd) || sd instanceof Tensor) {
      throw new SeqgradError(op, `sd must be a state dict (an object or Map of name → Tensor) as stateDict() returns, got ${show(sd)}`);
    }
    const strict = opts.strict ?? true;
    const entries = sd instanceof Map ? sd : new Map(Object.entries(sd));
    const own = new Map(this.namedParameters());
    const missingKeys = [...own.keys()].filter((k) => !entries.has(k));
    const unexpectedKeys = [...entries.keys()].filter((k) => !own.has(k));
    const problems: string[] = [];
    for (const [k, v] of entries) {
      const p = own.get(k);
      if (!p) continue;
      if (!(v instanceof Tensor)) problems.push(`'${k}' is not a Tensor`);
      else if (v.shape.length !== p.shape.length || v.shape.some((d, i) => d !== p.shape[i])) {
        problems.push(`size mismatch for '${k}': copying a param with shape ${fmt(v.shape)}, the shape in the current model is ${fmt(p.shape)}`);
      } else if (!v.isFinite()) {
        const bad = Array.from(v.data).find((x) => !Number.isFinite(x));
        problems.push(`'${k}'${fmt(v.shape)} holds ${bad}: a parameter must be finite`);
      }
    }
    if (strict) {
      if (missingKeys.length) problems.push(`missing key(s): ${missingKeys.map((k) => `'${k}'`).join(', ')}`);
      if (unexpectedKeys.length) problems.push(`unexpected key(s): ${unexpectedKeys.map((k) => `'${k}'`).join(', ')}`);
    }
    if (problems.length) {
      throw new SeqgradError(op, `error(s) in loading state dict:\n  ${problems.join('\n  ')}`);
    }
    noGrad(() => {
      for (const [k, v] of entries) {
        const p = own.get(k);
        if (!p) continue;
        p.data.set(v.data);
        p.bumpVersion();
      }
    });
    return { missingKeys, unexpectedKeys };
  }

  /** Sets training mode on this module and every descendant. */
  train(mode = true): this {
    for (const m of this.modules()) m.training = mode;
    return this;
  }
  /** Evaluation mode: `train(false)`. */
  eval(): this {
    return this.train(false);
  }

  /** Sets every parameter's `.grad` to null. */
  zeroGrad(): void {
    for (const p of this.parameters()) p.grad = null;
  }

  /** A line describing this module's own configuration (overridden by layers). */
  extraRepr(): string {
    return '';
  }

  /** A tree of modules with their configuration and parameter counts. */
  toString(): string {
    const head = `${this.constructor.name}(${this.extraRepr()})`;
    const lines = [`${head}  [${this.numParameters().toLocaleString('en-US')} params]`];
    for (const [n, c] of this.childSlots) {
      const sub = c.toString().split('\n');
      lines.push(`  (${n}): ${sub[0]}`, ...sub.slice(1).map((l) => `  ${l}`));
    }
    return lines.join('\n');
  }
}

/**
 * A deep copy of a module with its own parameter buffers (same values), used where a layer
 * needs a second instance of a user's module (the backward half of `Bidirectional`).
 */
export function cloneModule<M extends Module>(m: M): M {
  const tensors = new Map<Tensor, Tensor>();
  const modules = new Map<Module, Module>();
  const copy = <T extends Module>(src: T): T => {
    const done = modules.get(src);
    if (done) return done as T;
    const dst = Object.create(Object.getPrototypeOf(src)) as T;
    modules.set(src, dst);
    for (const key of Reflect.ownKeys(src)) {
      const desc = Object.getOwnPropertyDescriptor(src, key)!;
      if ('value' in desc) desc.value = copyValue(desc.value);
      Object.defineProperty(dst, key, desc);
    }
    return dst;
  };
  const copyTensor = (t: Tensor): Tensor => {
    let c = tensors.get(t);
    if (!c) {
      c = new Tensor(t.data.slice(), t.shape, t.requiresGrad && t.isLeaf);
      c.name = t.name;
      tensors.set(t, c);
    }
    return c;
  };
  const copyValue = (v: unknown): unknown => {
    if (v instanceof Tensor) return v.isLeaf ? copyTensor(v) : v;
    if (v instanceof Module) return copy(v);
    if (v instanceof Map) return new Map([...v].map(([k, x]) => [k, copyValue(x)]));
    if (Array.isArray(v)) return v.map(copyValue);
    // Plain objects (e.g. a layer's per-direction parameter records) are copied too; class
    // instances other than tensors and modules (a Generator) are shared.
    if (v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, copyValue(x)]));
    }
    return v;
  };
  return copy(m);
}
