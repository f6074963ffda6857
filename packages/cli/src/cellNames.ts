/**
 * What `--cell` and `--cells` accept: a built-in cell's name, or a path to a module exporting a
 * cell. Free of imports, so the argument parser uses it without loading the library.
 */

export type BuiltinCell = 'rnn' | 'lstm' | 'gru';
export const BUILTIN_CELLS: readonly BuiltinCell[] = ['rnn', 'lstm', 'gru'];

export function isBuiltinCell(name: string): name is BuiltinCell {
  return (BUILTIN_CELLS as readonly string[]).includes(name);
}

/** A cell value that holds a slash, a backslash or a dot names a module file. */
export function isCellPath(value: string): boolean {
  return /[/\\.]/.test(value);
}
