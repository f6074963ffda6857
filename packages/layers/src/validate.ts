import { type FloatDType, SeqgradError, type Tensor, checkOptions, fmt, isTensor, show } from '@seqgrad/autograd';

// The argument checks of every layer, run at constructor and forward entry (never per step),
// so that misuse is an error naming the public function, the argument and the shapes.

export { checkOptions };

export function checkPositiveInt(op: string, name: string, v: unknown): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
    throw new SeqgradError(op, `${name} must be a positive integer, got ${String(v)}`);
  }
}

/** The Elman activation, 'tanh' (default) or 'relu'; throws naming the op for anything else. */
export function checkNonlinearity(op: string, nonlinearity: unknown): 'tanh' | 'relu' {
  const nl = nonlinearity ?? 'tanh';
  if (nl !== 'tanh' && nl !== 'relu') throw new SeqgradError(op, `nonlinearity must be 'tanh' or 'relu', got '${String(nl)}'`);
  return nl;
}

/** A parameter dtype: 'float32' (default) or 'float64'. */
export function checkDtype(op: string, dtype: unknown): FloatDType {
  const d = dtype ?? 'float32';
  if (d !== 'float32' && d !== 'float64') throw new SeqgradError(op, `dtype must be 'float32' or 'float64', got ${show(d)}`);
  return d;
}

/** An optional boolean option; `fallback` when absent. */
export function checkBoolean(op: string, name: string, v: unknown, fallback: boolean): boolean {
  if (v === undefined) return fallback;
  if (typeof v !== 'boolean') throw new SeqgradError(op, `${name} must be true or false, got ${show(v)}`);
  return v;
}

/** An optional number option in [min, max]; `fallback` when absent. */
export function checkNumber(op: string, name: string, v: unknown, fallback: number, min = -Infinity, max = Infinity): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
    const range = max === Infinity ? (min === -Infinity ? 'a finite number' : `a finite number >= ${min}`) : `a number in [${min}, ${max}]`;
    throw new SeqgradError(op, `${name} must be ${range}, got ${show(v)}`);
  }
  return v;
}

/** A dropout or zoneout rate: a number in [0, 1) (1 would drop everything and scale by 1/0). */
export function checkRate(op: string, name: string, v: unknown): number {
  if (v === undefined) return 0;
  if (typeof v !== 'number' || !(v >= 0 && v < 1)) throw new SeqgradError(op, `${name} must be a number in [0, 1), got ${show(v)}`);
  return v;
}

/** Throws unless `x` is a tensor whose dtype matches the layer's parameters. */
export function checkInput(op: string, arg: string, x: unknown, dtype: FloatDType): asserts x is Tensor {
  if (!isTensor(x)) throw new SeqgradError(op, `${arg} must be a Tensor, got ${show(x)}`);
  if (x.dtype !== dtype) {
    throw new SeqgradError(op, `${arg}${fmt(x.shape)} has dtype ${x.dtype} but the parameters are ${dtype}; convert with .to('${dtype}')`);
  }
}

/** `{ h, c }`: how messages write the keys a state must have. */
export function stateForm(keys: readonly string[]): string {
  return `{ ${keys.join(', ')} }`;
}

const PYTORCH_STATE_NAMES: Record<string, string> = { hx: 'h', cx: 'c', h0: 'h', c0: 'c', hidden: 'h', cell: 'c' };

/**
 * Checks a recurrent state against the form a layer expects: a plain object with exactly
 * the keys of `want`, each a tensor of dtype `dtype` and of the shape `want[key]`. A bare
 * tensor, an array (PyTorch's `(h, c)` tuple), PyTorch's names (`hx`, `cx`), a missing or an
 * extra key are errors naming the expected keys and shapes; nothing is filled in with zeros.
 */
export function checkStateObject(op: string, state: unknown, want: Record<string, readonly number[]>, dtype: FloatDType, arg = 'state'): void {
  const keys = Object.keys(want);
  const expected = `${stateForm(keys)} with ${keys.map((k) => `${k}${fmt(want[k]!)}`).join(', ')}`;
  if (state === null || typeof state !== 'object' || isTensor(state) || Array.isArray(state)) {
    const got = Array.isArray(state) ? `an array of ${state.length}` : show(state);
    throw new SeqgradError(op, `${arg} must be an object ${expected}; got ${got}`);
  }
  for (const [k, v] of Object.entries(state)) {
    // An entry set to null or undefined is an absent one (`{ h, c: null }` for an RNN).
    if (k in want || v === undefined || v === null) continue;
    const hint = PYTORCH_STATE_NAMES[k] && PYTORCH_STATE_NAMES[k]! in want ? ` (PyTorch's '${k}' is '${PYTORCH_STATE_NAMES[k]}' here)` : '';
    throw new SeqgradError(op, `${arg} has an unexpected key '${k}'${hint}; expected ${expected}`);
  }
  for (const k of keys) {
    const t = (state as Record<string, unknown>)[k];
    if (t === undefined || t === null) throw new SeqgradError(op, `${arg}.${k} is missing; expected ${expected}`);
    checkInput(op, `${arg}.${k}`, t, dtype);
    const shape = want[k]!;
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new SeqgradError(op, `${arg}.${k}${fmt(t.shape)} must have shape ${fmt(shape)}; expected ${expected}`);
    }
  }
}

/** A batch of 0 has no sequence to run: refused by name rather than by a kernel deep inside. */
export function checkBatch(op: string, x: Tensor, B: number): void {
  if (B === 0) throw new SeqgradError(op, `x${fmt(x.shape)} is a batch of 0; pass at least one sequence`);
}

/** The initialisation options of recurrent layers and cells (see RecurrentInitOptions). */
export function checkInitOptions(op: string, opts: { recurrentInit?: unknown; forgetBias?: unknown }): void {
  const ri = opts.recurrentInit;
  if (ri !== undefined && ri !== 'uniform' && ri !== 'orthogonal') {
    throw new SeqgradError(op, `recurrentInit must be 'uniform' or 'orthogonal', got ${show(ri)}`);
  }
  checkNumber(op, 'forgetBias', opts.forgetBias, 0);
}
