/**
 * The editor's code turned into a cell, in Node: the same compileCell and sucrase stripping the
 * playground's worker runs (tests/playground/playground.test.ts drives them in Chromium).
 */
import * as autograd from '@seqgrad/autograd';
import { Generator, randn } from '@seqgrad/autograd';
import * as layers from '@seqgrad/layers';
import { RecurrentCell } from '@seqgrad/layers';
import { expect, test } from 'vitest';
import { CellCodeError, compileCell, errorLocation, isModuleSource } from '../../apps/playground/src/cellCode.js';
import { stripTypes } from '../../apps/playground/src/typescript.js';

const LIBRARY = { autograd, layers };
const isCell = (v: unknown) => v instanceof RecurrentCell;

/** A tanh RNN cell as a factory expression; `typed` adds an interface, annotations and casts. */
function tanhCell(typed: boolean, stepLine = 'return { h: tanh(add(linear(x, this.weightIh), linear(h, this.weightHh))) };'): string {
  const t = (s: string) => (typed ? s : '');
  return `({ autograd, layers }${t(': any')}, inputSize${t(': number')}, hiddenSize${t(': number')}, opts${t(': { generator?: autograd.Generator }')}) => {
  const { add, linear, tanh, zeros } = autograd;
  ${typed ? 'interface State { h: autograd.Tensor }' : ''}
  class TanhCell extends layers.RecurrentCell {
    stateSizes = { h: hiddenSize };
    ${typed ? 'weightIh: autograd.Tensor; weightHh: autograd.Tensor;' : ''}
    step(x${t(': autograd.Tensor')}, { h }${t(': State')})${t(': State')} {
      ${stepLine}
    }
    constructor() {
      super(inputSize, hiddenSize, opts);
      this.weightIh = this.registerParameter('weight_ih', zeros([hiddenSize, inputSize]));
      this.weightHh = this.registerParameter('weight_hh', zeros([hiddenSize, hiddenSize]));
      for (const w of [this.weightIh, this.weightHh]) layers.init.uniform(w${t(' as autograd.Tensor')}, -0.5, 0.5, { generator: opts.generator });
    }
  }
  return new TanhCell()${t(' as layers.RecurrentCell')};
}`;
}

test('compileCell: a factory expression with TypeScript types builds the same cell as without them', () => {
  const typed = compileCell(tanhCell(true), LIBRARY, isCell, stripTypes)(3, 4, { generator: new Generator(7) });
  const plain = compileCell(tanhCell(false), LIBRARY, isCell, stripTypes)(3, 4, { generator: new Generator(7) });
  const x = randn([2, 3], { generator: new Generator(1) });
  expect(Array.from(typed.forward(x).h.data)).toEqual(Array.from(plain.forward(x).h.data));
  expect(Array.from(typed.forward(x).h.data).some((v) => v !== 0)).toBe(true);
});

test('compileCell: an error thrown in a typed step is located at the editor line and column of the call, types included', () => {
  const call = 'linear(x as autograd.Tensor, this.weightHh)';
  const source = tanhCell(true, `const y: autograd.Tensor = ${call};\n      return { h: tanh(add(y, linear(h, this.weightHh))) };`);
  const cell = compileCell(source, LIBRARY, isCell, stripTypes)(3, 4, {});
  let caught: unknown;
  try {
    cell.forward(randn([2, 3]));
  } catch (err) {
    caught = err;
  }
  expect((caught as Error).message).toMatch(/linear/);
  const lines = source.split('\n');
  const line = lines.findIndex((l) => l.includes(call)) + 1;
  // The stripped line lacks ': autograd.Tensor' before the call, so an unmapped column is 17 short.
  expect(errorLocation(caught)).toEqual({ line, column: lines[line - 1]!.indexOf(call) + 1 });
});

test('compileCell: a module exports its cell as default, as Cell, or as its only RecurrentCell class; anything else is refused', () => {
  const body = `import { zeros, type Tensor } from '@seqgrad/autograd';
import { RecurrentCell } from '@seqgrad/layers';
class Id extends RecurrentCell<{ h: Tensor }> {
  readonly stateSizes = { h: this.hiddenSize };
  step(x: Tensor, s: { h: Tensor }) { return s; }
}
const unused = zeros([1]);
`;
  for (const exported of ['export default Id;', 'export { Id as Cell };', 'export { Id };', 'export const Cell = (lib: unknown, i: number, h: number) => new Id(i, h);']) {
    const cell = compileCell(body + exported, LIBRARY, isCell, stripTypes)(2, 3, {});
    expect(cell.stateSizes, exported).toEqual({ h: 3 });
  }
  expect(() => compileCell(`${body}export class A extends Id {}\nexport class B extends Id {}`, LIBRARY, isCell, stripTypes)).toThrow(
    /it exports A, B \(several cell classes: mark one with export default\)/,
  );
  expect(() => compileCell(`${body}export const n = 1;`, LIBRARY, isCell, stripTypes)).toThrow(/must export its cell.*it exports n$/);
  expect(() => compileCell(`${body}export default 3;`, LIBRARY, isCell, stripTypes)).toThrow(/export 'default' must be a class extending RecurrentCell or a factory.*it is number/);
});

test('compileCell: a module can import only the page\'s autograd and layers, each name it exports only', () => {
  let caught: unknown;
  try {
    compileCell(`import { zeros } from '@seqgrad/autograd';\nimport { Adam } from '@seqgrad/optim';\nexport default 1;`, LIBRARY, isCell, stripTypes);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(CellCodeError);
  expect((caught as CellCodeError).message).toMatch(/^import '@seqgrad\/optim': a cell in the editor can import '@seqgrad\/autograd' and '@seqgrad\/layers'/);
  expect((caught as CellCodeError).location?.line).toBe(2);
  expect(() => compileCell(`import { zerros } from '@seqgrad/autograd';\n\nexport default zerros([1]);`, LIBRARY, isCell, stripTypes)).toThrow(
    /the module '@seqgrad\/autograd' has no export named 'zerros'/,
  );
});

test('stripTypes: keeps every line, and a syntax error is a CellCodeError at its line and column', () => {
  const source = 'const a: number = 1;\ninterface P {\n  x: number;\n}\nconst b = a as number;\ntype Q = P;\nexport { b };\n';
  for (const module of [false, true]) {
    const { code } = stripTypes(source, module);
    expect(code.split('\n')).toHaveLength(source.split('\n').length);
    expect(code.split('\n').findIndex((l) => l.includes('const b = a'))).toBe(4);
  }
  let caught: unknown;
  try {
    stripTypes('const a = 1;\n  let y: = 2;', false);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(CellCodeError);
  expect((caught as CellCodeError).message).toMatch(/^syntax error: Unexpected token/);
  expect((caught as CellCodeError).location).toEqual({ line: 2, column: 10 });
});

test('isModuleSource: a line that starts with import or export makes a module; import() and words in code do not', () => {
  expect(isModuleSource("import { add } from '@seqgrad/autograd';")).toBe(true);
  expect(isModuleSource('// a cell\n  export default class A {}')).toBe(true);
  expect(isModuleSource("import * as layers from '@seqgrad/layers';")).toBe(true);
  expect(isModuleSource('({ autograd }) => { const exported = 1; return importance(exported); }')).toBe(false);
  expect(isModuleSource("({ autograd }) => import('x')")).toBe(false);
});
