/**
 * A custom cell from a module file the user names with `--cell` (Node only: it reads and hashes
 * the file and imports it). The model it goes into is in sequenceModel.ts.
 */
import * as autograd from '@seqgrad/autograd';
import * as layers from '@seqgrad/layers';
import { RecurrentCell } from '@seqgrad/layers';
import { existsSync } from 'node:fs';
import { basename, extname, isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CliError } from './errors.js';
import { type CellBuildOptions, type CellFactory, checkStepState } from './sequenceModel.js';
import { readUserFile, sha256 } from './userFile.js';

/** A custom cell the user named on the command line: its factory, its name and the SHA-256 of its module file. */
export interface CustomCell {
  factory: CellFactory;
  /** The module's base name without extension (`mgu` for examples/cells/mgu.mjs): how reports and checkpoints name it. */
  name: string;
  sha256: string;
  path: string;
}

/** `mgu` for `examples/cells/mgu.mjs`. */
export function cellNameOf(path: string): string {
  return basename(path, extname(path)).replace(/[^\w.-]/g, '_').slice(0, 100) || 'cell';
}

/**
 * Loads a module that exports a custom cell, given by the user with `--cell` (never a path read
 * from a checkpoint). Accepted shapes, default export or export `Cell`:
 * - a class extending `RecurrentCell` (built with `new Cell(inputSize, hiddenSize, { dtype, generator })`), or
 * - a function `({ autograd, layers }, inputSize, hiddenSize, { dtype, generator }) => cell`, which
 *   lets a cell file outside this repository use seqgrad without importing it.
 * `expectSha256`, when given (a checkpoint's record), must be the file's hash, checked before the
 * module is imported.
 */
export async function loadCellFactory(path: string, expectSha256?: string, expectName?: string): Promise<CustomCell> {
  const abs = isAbsolute(path) ? path : resolve(process.cwd(), path);
  const bytes = readUserFile('--cell', path, abs, 16 * 1024 ** 2);
  const hash = sha256(bytes);
  if (expectSha256 !== undefined && hash !== expectSha256) {
    throw new CliError(`--cell ${path}: this file is not the cell the checkpoint was trained with ('${expectName}', SHA-256 ${expectSha256.slice(0, 12)}…; this file's is ${hash.slice(0, 12)}…)`);
  }
  const mod = await loadCellModule(path, abs);
  const exported = mod.default ?? mod.Cell;
  if (typeof exported !== 'function') {
    throw new CliError(`--cell ${path}: the module must export (default or as 'Cell') a RecurrentCell class or a factory function`);
  }
  const ctor = exported as { prototype: unknown };
  const make: CellFactory =
    ctor.prototype instanceof RecurrentCell
      ? (i, h, o) => new (exported as new (i: number, h: number, o?: CellBuildOptions) => RecurrentCell)(i, h, o)
      : (i, h, o) => (exported as (lib: unknown, i: number, h: number, o?: CellBuildOptions) => RecurrentCell)({ autograd, layers }, i, h, o);
  const factory: CellFactory = (i, h, o) => {
    let cell: RecurrentCell;
    try {
      cell = make(i, h, o);
    } catch (err) {
      throw new CliError(`--cell ${path}: building the cell failed: ${(err as Error).message?.split('\n')[0]}`);
    }
    if (!(cell instanceof RecurrentCell)) {
      throw new CliError(`--cell ${path}: the factory did not return a RecurrentCell (extend layers.RecurrentCell from the library it is given)`);
    }
    checkStepState(cell, i, `--cell ${path}`);
    return cell;
  };
  return { factory, name: cellNameOf(path), sha256: hash, path: abs };
}

/** Imports a cell module given on the command line (relative to the working directory). */
export async function loadCellModule(path: string, abs = isAbsolute(path) ? path : resolve(process.cwd(), path)): Promise<Record<string, unknown>> {
  if (!existsSync(abs)) throw new CliError(`--cell ${path}: no such file`);
  try {
    return (await import(pathToFileURL(abs).href)) as Record<string, unknown>;
  } catch (err) {
    throw new CliError(`--cell ${path}: cannot load the module: ${(err as Error).message?.split('\n')[0]}`);
  }
}
