/** Shapes are plain arrays of non-negative integers, row-major. */
export type Shape = readonly number[];

/**
 * The error every op throws for bad input: wrong shapes, wrong dtypes, bad arguments.
 * The message always starts with the op's name, then names the argument and every shape.
 */
export class SeqgradError extends Error {
  constructor(
    readonly op: string,
    message: string,
  ) {
    super(`${op}: ${message}`);
    this.name = 'SeqgradError';
  }
}

/** `fmt([2, 3])` is `[2,3]`; the one way shapes appear in messages. */
export function fmt(shape: Shape): string {
  return `[${shape.join(',')}]`;
}

/** The number of elements of a shape, Π shape[d] (1 for `[]`). @example numel([2, 3]); // 6 */
export function numel(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function stridesOf(shape: Shape): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    strides[d] = s;
    s *= shape[d]!;
  }
  return strides;
}

export function sameShape(a: Shape, b: Shape): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** NumPy broadcasting of two shapes; throws naming the op and both shapes. */
export function broadcastShapes(op: string, a: Shape, b: Shape, names = ['a', 'b']): number[] {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new SeqgradError(
        op,
        `${names[0]}${fmt(a)} and ${names[1]}${fmt(b)} cannot be broadcast: dimension ${i - n} is ${da} vs ${db}`,
      );
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** Normalises a possibly negative axis against a rank, naming the op on error. */
export function normAxis(op: string, axis: number, rank: number, argName = 'axis'): number {
  // A 0-d tensor accepts axis 0 and −1, as in PyTorch (they name the tensor itself).
  const r = Math.max(rank, 1);
  if (!Number.isInteger(axis) || axis < -r || axis >= r) {
    throw new SeqgradError(op, `${argName}=${axis} is out of range for a tensor of rank ${rank}`);
  }
  return axis < 0 ? axis + r : axis;
}

/** Normalises an axis list (undefined = every axis), sorted and without repeats. */
export function normAxes(op: string, axes: number | readonly number[] | undefined, rank: number): number[] {
  if (axes === undefined) return Array.from({ length: rank }, (_, i) => i);
  const list = typeof axes === 'number' ? [axes] : axes;
  const out = list.map((a) => normAxis(op, a, rank));
  if (new Set(out).size !== out.length) throw new SeqgradError(op, `axes [${list.join(',')}] repeat an axis`);
  // Reducing a 0-d tensor over its axis 0 reduces over nothing.
  return rank === 0 ? [] : out.sort((x, y) => x - y);
}

/**
 * The most elements one tensor may hold: 2³¹ − 1, so every offset fits an int32 index (as the
 * kernels and the indexing ops assume) and a shape like [1e6, 1e6] is refused by name.
 */
export const MAX_NUMEL = 2 ** 31 - 1;

/** A value as messages show it, with its kind: `the string 'a'`, `the number 3`, `a Tensor[2,3]`, `null`. */
export function show(x: unknown): string {
  if (typeof x === 'string') return `the string '${x}'`;
  if (typeof x === 'number' || typeof x === 'boolean') return `the ${typeof x} ${String(x)}`;
  if (x === null || x === undefined) return String(x);
  if (Array.isArray(x)) return `an array of ${x.length}`;
  if (typeof x === 'function') return 'a function';
  const shape = (x as { shape?: unknown }).shape;
  if (Array.isArray(shape) && ArrayBuffer.isView((x as { data?: unknown }).data)) return `a Tensor${fmt(shape as number[])}`;
  return typeof x === 'object' ? `an object (${(x as object).constructor?.name ?? 'Object'})` : typeof x;
}

/**
 * Throws unless `shape` is an array of non-negative integers holding at most MAX_NUMEL
 * elements, naming the op and the shape. Called at the entry of every op that allocates.
 */
export function checkShape(op: string, shape: unknown, argName = 'shape'): asserts shape is Shape {
  if (!Array.isArray(shape)) throw new SeqgradError(op, `${argName} must be an array of non-negative integers, got ${show(shape)}`);
  let n = 1;
  for (const d of shape) {
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 0) {
      throw new SeqgradError(op, `${argName} ${fmt(shape)} must hold non-negative integers`);
    }
    n *= d;
  }
  if (n > MAX_NUMEL) {
    throw new SeqgradError(op, `${argName} ${fmt(shape)} has ${n} elements, more than the ${MAX_NUMEL} a tensor can hold`);
  }
}

/** Letters only, lower case: `num_layers` and `numLayers` both become `numlayers`. */
function squash(s: string): string {
  return s.replace(/[^a-zA-Z0-9]/g, '').toLowerCase();
}

/** Levenshtein distance, for "did you mean" suggestions on short option names. */
function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

/** The known name closest to `key` (same letters ignoring case and `_`, or at most 2 edits away). */
export function suggest(key: string, known: readonly string[]): string | undefined {
  const k = squash(key);
  const same = known.find((n) => squash(n) === k);
  if (same) return same;
  let best: string | undefined;
  let bestD = 3;
  for (const n of known) {
    const d = editDistance(k, squash(n));
    if (d < bestD && d < Math.max(2, n.length / 2)) {
      best = n;
      bestD = d;
    }
  }
  return best;
}

/**
 * Throws when `options` holds a key that is not in `known`, naming the key, the closest
 * known name and every known one: `LSTM: unknown option 'num_layers' (did you mean
 * 'numLayers'?); the options are ...`. `undefined` passes; anything but a plain object fails.
 *
 * @example
 * checkOptions('Linear', { biass: false }, ['bias', 'dtype', 'generator']); // throws
 */
export function checkOptions(op: string, options: unknown, known: readonly string[], argName = 'options'): void {
  if (options === undefined) return;
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new SeqgradError(op, `${argName} must be an object, got ${show(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue;
    const near = suggest(key, known);
    throw new SeqgradError(
      op,
      `unknown option '${key}'${near ? ` (did you mean '${near}'?)` : ''}; the options are ${known.length ? known.join(', ') : 'none'}`,
    );
  }
}
