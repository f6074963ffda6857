/**
 * Turns the editor's source into a cell factory and maps an error back to the editor line it
 * came from. The source is one JavaScript expression, the factory of docs/custom-cells.md:
 * `({ autograd, layers }, inputSize, hiddenSize, opts) => cell`. It runs in the worker, where it
 * can reach nothing of the page.
 */
import type { Generator } from '@seqgrad/autograd';
import type { RecurrentCell } from '@seqgrad/layers';
import type { CodeLocation } from './protocol.js';

export type CellFactory = (inputSize: number, hiddenSize: number, opts?: { dtype?: 'float32' | 'float64'; generator?: Generator }) => RecurrentCell;

/** The name stack traces give to frames of the editor's code. */
const SOURCE_URL = 'playground-cell.js';

/**
 * Line of the editor's first line in the function body `new Function` builds: engines wrap the
 * body in a header of their own, so it is measured instead of assumed.
 */
const FIRST_LINE = (() => {
  const stack = new Function(`return new Error().stack\n//# sourceURL=${SOURCE_URL}`)() as string;
  return locate(stack, 1)?.line ?? 1;
})();

function locate(stack: string | undefined, firstLine: number): CodeLocation | null {
  if (!stack) return null;
  const re = new RegExp(`${SOURCE_URL.replace('.', '\\.')}:(\\d+):(\\d+)`);
  const m = re.exec(stack);
  if (!m) return null;
  return { line: Number(m[1]) - firstLine + 1, column: Number(m[2]) };
}

/** Lines of the body before the editor's first line (see `compileCell`). */
const PREFIX = '"use strict";\nreturn (\n';
const PREFIX_LINES = 2;

/** The editor line an error thrown by the user's code comes from, or null if it is not in it. */
export function errorLocation(err: unknown): CodeLocation | null {
  return locate((err as Error | undefined)?.stack, FIRST_LINE + PREFIX_LINES);
}

/** The first line of an error's message, prefixed with its class when that says something. */
export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const text = err.message.split('\n')[0] ?? '';
    return err.name && err.name !== 'Error' ? `${err.name}: ${text}` : text;
  }
  return String(err);
}

export class CellCodeError extends Error {
  constructor(message: string, readonly location: CodeLocation | null) {
    super(message);
    this.name = 'CellCodeError';
  }
}

/** Wraps a factory function so that every cell it builds is checked to be a `RecurrentCell`. */
export function cellFactoryOf(factory: unknown, library: unknown, isCell: (v: unknown) => boolean, what: string): CellFactory {
  return (inputSize, hiddenSize, opts) => {
    const cell = (factory as (lib: unknown, i: number, h: number, o: unknown) => unknown)(library, inputSize, hiddenSize, opts ?? {});
    if (!isCell(cell)) throw new CellCodeError(`${what} must return a cell: an instance of a class extending layers.RecurrentCell`, null);
    return cell as RecurrentCell;
  };
}

/**
 * Evaluates the source to a factory and wraps it so that every cell it builds is checked to be
 * a `RecurrentCell`. `isCell` is passed in so this file needs no runtime import of the library.
 */
export function compileCell(source: string, library: unknown, isCell: (v: unknown) => boolean): CellFactory {
  let factory: unknown;
  try {
    factory = new Function(`${PREFIX}${source}\n);\n//# sourceURL=${SOURCE_URL}`)();
  } catch (err) {
    // A syntax error has no stack frame in the code; the page's own parser locates it.
    throw new CellCodeError(describeError(err), errorLocation(err));
  }
  if (typeof factory !== 'function') {
    throw new CellCodeError('the code must be one function expression: ({ autograd, layers }, inputSize, hiddenSize, opts) => cell', { line: 1, column: 1 });
  }
  return cellFactoryOf(factory, library, isCell, 'the factory');
}
