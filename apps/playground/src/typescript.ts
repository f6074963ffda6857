/**
 * The editor's TypeScript: sucrase strips the types (and, for a module, turns its `import` and
 * `export` lines into `require` calls and `exports` properties), keeping every line where it
 * was. Its token-level source map gives back the editor's column of an error. The worker loads
 * this module the first time it builds the editor's cell (sucrase is about 47 kB gzip), so the
 * built-in cells never wait for it.
 */
import { transform } from 'sucrase';
import { CellCodeError, type StrippedCode } from './cellCode.js';

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** The values of one base64 VLQ segment of a source map. */
function decodeSegment(segment: string): number[] {
  const values: number[] = [];
  let value = 0;
  let shift = 0;
  for (const ch of segment) {
    const digit = BASE64.indexOf(ch);
    value += (digit & 31) << shift;
    if (digit & 32) {
      shift += 5;
    } else {
      values.push(value & 1 ? -(value >>> 1) : value >>> 1);
      value = 0;
      shift = 0;
    }
  }
  return values;
}

/** Per generated line, the (generated column, source column) pairs of the map, 0-based. */
function decodeColumns(mappings: string): [number, number][][] {
  let sourceColumn = 0;
  return mappings.split(';').map((line) => {
    let generatedColumn = 0;
    const pairs: [number, number][] = [];
    for (const segment of line.split(',')) {
      if (!segment) continue;
      const v = decodeSegment(segment);
      generatedColumn += v[0]!;
      if (v.length >= 4) {
        sourceColumn += v[3]!;
        pairs.push([generatedColumn, sourceColumn]);
      }
    }
    return pairs;
  });
}

/**
 * Strips the types of the editor's code. `module`: the code has `import`/`export` lines, which
 * become `require(name)` calls and `exports.name = …` (CommonJS, for `new Function`).
 * A syntax error is a `CellCodeError` at the line and column sucrase's parser gives.
 */
export function stripTypes(source: string, module: boolean): StrippedCode {
  let result: ReturnType<typeof transform>;
  try {
    result = transform(source, {
      transforms: module ? ['typescript', 'imports'] : ['typescript'],
      // Class fields, optional chaining and the like stay as written: the worker runs ES2022.
      disableESTransforms: true,
      // An import is run even when only types use it, as an ES module's would be, so an import of
      // a package the page does not have is refused.
      keepUnusedImports: true,
      sourceMapOptions: { compiledFilename: 'playground-cell.js' },
      filePath: 'playground-cell.ts',
    });
  } catch (err) {
    const loc = (err as { loc?: { line: number; column: number } }).loc;
    const message = (err as Error).message.replace(/^Error transforming [^:]*: /, '').replace(/ \(\d+:\d+\)$/, '');
    throw new CellCodeError(`syntax error: ${message}`, loc ? { line: loc.line, column: loc.column } : null);
  }
  const lines = decodeColumns(result.sourceMap!.mappings);
  return {
    code: result.code,
    column(line, column) {
      // The last token that starts at or before the column, and the same offset into it.
      const pairs = lines[line - 1];
      let best: [number, number] | undefined;
      for (const pair of pairs ?? []) if (pair[0] <= column - 1) best = pair;
      return best ? best[1] + (column - 1 - best[0]) + 1 : column;
    },
  };
}
