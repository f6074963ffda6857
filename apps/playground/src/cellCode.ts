/**
 * Turns the editor's source, TypeScript or JavaScript, into a cell factory and maps an error back
 * to the editor line it came from. The source takes one of two forms (docs/playground.md):
 * - one function expression, the factory of docs/custom-cells.md:
 *   `({ autograd, layers }, inputSize, hiddenSize, opts) => cell`;
 * - a module whose `import … from '@seqgrad/autograd'` (or `'@seqgrad/layers'`) lines get the
 *   page's own bundled packages, and which exports its cell: as default or as `Cell` (a class
 *   extending `RecurrentCell` or a factory), or as its only exported `RecurrentCell` class.
 * Types are stripped first (see typescript.ts), with every line kept. The code runs in the
 * worker, where it can reach nothing of the page, and imports nothing but those two packages.
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

/**
 * Lines of the body before the editor's first line (see `compileCell`). A module's stripped code
 * starts with its own "use strict", so its body starts with as many empty lines.
 */
const PREFIX = '"use strict";\nreturn (\n';
const MODULE_PREFIX = '\n\n';
const PREFIX_LINES = 2;

/** The editor's code with its types stripped, and the editor's column of a column of that code. */
export interface StrippedCode {
  code: string;
  column(line: number, column: number): number;
}

/** Strips the types of the editor's code (typescript.ts, loaded on first use). */
export type StripTypes = (source: string, module: boolean) => StrippedCode;

/** The packages a module in the editor can import, by the names it imports them with. */
export interface CellLibrary {
  autograd: object;
  layers: object;
}

/** The stripped code the worker runs now: one run, one editor cell at a time. */
let current: StrippedCode | null = null;

/** The editor line an error thrown by the user's code comes from, or null if it is not in it. */
export function errorLocation(err: unknown): CodeLocation | null {
  const at = locate((err as Error | undefined)?.stack, FIRST_LINE + PREFIX_LINES);
  if (!at || !current) return at;
  return { line: at.line, column: current.column(at.line, at.column) };
}

/** Whether the source is a module: a line that starts with `import` or `export` (not `import(`). */
export function isModuleSource(source: string): boolean {
  return /^[ \t]*(?:import[ \t]*[\w{*'"]|export[ \t])/m.test(source);
}

/** The first line of an error's message, prefixed with its class when that says something. */
export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const text = err.message.split('\n')[0] ?? '';
    return err.name && err.name !== 'Error' && !(err instanceof CellCodeError) ? `${err.name}: ${text}` : text;
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
 * A module's `require`: the page's bundled packages, each behind a proxy that names a missing
 * export as ES modules would, instead of leaving it undefined.
 */
function requireOf(library: CellLibrary): (name: string) => object {
  const modules = new Map<string, object>([['@seqgrad/autograd', library.autograd], ['@seqgrad/layers', library.layers]]);
  const proxies = new Map<string, object>();
  return (name) => {
    const namespace = modules.get(name);
    if (!namespace) {
      throw new Error(`import '${name}': a cell in the editor can import '@seqgrad/autograd' and '@seqgrad/layers' (the page's own packages), nothing else`);
    }
    let proxy = proxies.get(name);
    if (!proxy) {
      proxy = new Proxy({ ...namespace, __esModule: true }, {
        get(target, key) {
          if (typeof key === 'string' && !(key in target)) throw new SyntaxError(`the module '${name}' has no export named '${key}'`);
          return Reflect.get(target, key);
        },
      });
      proxies.set(name, proxy);
    }
    return proxy;
  };
}

/** The cell a module exports: default, `Cell`, or its only exported `RecurrentCell` class. */
function exportedCell(exports: Record<string, unknown>, isCell: (v: unknown) => boolean): { value: unknown; name: string } {
  for (const name of ['default', 'Cell']) if (exports[name] !== undefined) return { value: exports[name], name };
  const classes = Object.entries(exports).filter(([, v]) => typeof v === 'function' && isCell((v as { prototype: unknown }).prototype));
  if (classes.length === 1) return { value: classes[0]![1], name: classes[0]![0] };
  const names = Object.keys(exports).filter((k) => k !== '__esModule');
  throw new CellCodeError(
    `the module must export its cell: as default or as 'Cell' (a class extending RecurrentCell or a factory), or as its only exported RecurrentCell class; it exports ${names.length ? names.join(', ') : 'nothing'}${classes.length > 1 ? ' (several cell classes: mark one with export default)' : ''}`,
    { line: 1, column: 1 },
  );
}

/** Runs stripped code, located at the editor's lines, turning what it throws into a `CellCodeError`. */
function evaluate(params: string[], body: string, args: unknown[]): unknown {
  try {
    return new Function(...params, `${body}\n//# sourceURL=${SOURCE_URL}`)(...args);
  } catch (err) {
    if (err instanceof CellCodeError) throw err;
    // A syntax error has no stack frame in the code; the page's own parser locates it.
    throw new CellCodeError(describeError(err), errorLocation(err));
  }
}

/**
 * Strips the source's types, evaluates it to a factory and wraps it so that every cell it builds
 * is checked to be a `RecurrentCell`. `isCell` is passed in so this file needs no runtime import
 * of the library.
 */
export function compileCell(source: string, library: CellLibrary, isCell: (v: unknown) => boolean, strip: StripTypes): CellFactory {
  current = null;
  const module = isModuleSource(source);
  current = strip(source, module);
  if (module) {
    const exports: Record<string, unknown> = {};
    evaluate(['require', 'exports', 'module'], `${MODULE_PREFIX}${current.code}`, [requireOf(library), exports, { exports }]);
    const { value, name } = exportedCell(exports, isCell);
    if (typeof value !== 'function') {
      throw new CellCodeError(`the module's export '${name}' must be a class extending RecurrentCell or a factory ({ autograd, layers }, inputSize, hiddenSize, opts) => cell; it is ${value === null ? 'null' : typeof value}`, { line: 1, column: 1 });
    }
    const ctor = value as new (i: number, h: number, o: unknown) => unknown;
    const factory = isCell(ctor.prototype) ? (_lib: unknown, i: number, h: number, o: unknown) => new ctor(i, h, o) : value;
    return cellFactoryOf(factory, library, isCell, `the module's export '${name}'`);
  }
  const factory = evaluate([], `${PREFIX}${current.code}\n);`, []);
  if (typeof factory !== 'function') {
    throw new CellCodeError('the code must be one function expression: ({ autograd, layers }, inputSize, hiddenSize, opts) => cell, or a module that exports its cell', { line: 1, column: 1 });
  }
  return cellFactoryOf(factory, library, isCell, 'the factory');
}
