/**
 * Errors and their messages: `SeqgradError`, `fmt` for shapes, `show` for any value, and the
 * "unknown option (did you mean ...)" check of options objects. Imports nothing, so every
 * other module (shapes.ts included) can use it.
 */

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
export function fmt(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

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
