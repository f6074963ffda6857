/**
 * The cell editor: CodeMirror 6 with its JavaScript language in TypeScript mode (which reads
 * JavaScript too), syntax errors located by its own parser, and a marker at the line an error
 * comes from.
 */
import { javascript } from '@codemirror/lang-javascript';
import { ensureSyntaxTree } from '@codemirror/language';
import { type Diagnostic, setDiagnostics } from '@codemirror/lint';
import { EditorView, basicSetup } from 'codemirror';
import type { CodeLocation } from './protocol.js';

/** The minimal gated unit (Zhou et al. 2016) in the factory form of docs/custom-cells.md. */
export const DEFAULT_CELL = `// A minimal gated unit: one gate f in both of the GRU's roles.
//   f = σ(W_f x + U_f h + b_f)
//   ĥ = tanh(W_h x + U_h (f ⊙ h) + b_h)
//   h' = (1 − f) ⊙ h + f ⊙ ĥ
({ autograd, layers }, inputSize, hiddenSize, opts) => {
  const { add, chunk, linear, mul, narrow, sigmoid, sub, tanh, zeros } = autograd;
  const H = hiddenSize;
  class MGUCell extends layers.RecurrentCell {
    stateSizes = { h: H };
    constructor() {
      super(inputSize, hiddenSize, opts);
      this.weightIh = this.registerParameter('weight_ih', zeros([2 * H, inputSize], { dtype: this.dtype }));
      this.weightHh = this.registerParameter('weight_hh', zeros([2 * H, H], { dtype: this.dtype }));
      this.bias = this.registerParameter('bias', zeros([2 * H], { dtype: this.dtype }));
      this.resetParameters(opts.generator);
    }
    resetParameters(generator) {
      const k = 1 / Math.sqrt(H);
      for (const t of [this.weightIh, this.weightHh, this.bias]) layers.init.uniform(t, -k, k, { generator });
    }
    step(x, { h }) {
      const [xf, xn] = chunk(linear(x, this.weightIh, this.bias), 2, -1);
      const f = sigmoid(add(xf, linear(h, narrow(this.weightHh, 0, 0, H))));
      const n = tanh(add(xn, linear(mul(f, h), narrow(this.weightHh, 0, H, H))));
      return { h: add(h, mul(f, sub(n, h))) };
    }
  }
  return new MGUCell();
}
`;

export class CellEditor {
  readonly view: EditorView;

  constructor(parent: HTMLElement, doc = DEFAULT_CELL) {
    this.view = new EditorView({ doc, extensions: [basicSetup, javascript({ typescript: true })], parent });
  }

  get code(): string {
    return this.view.state.doc.toString();
  }

  set code(text: string) {
    this.view.dispatch({ changes: { from: 0, to: this.view.state.doc.length, insert: text } });
  }

  /** The first syntax error the TypeScript parser finds, or null. */
  syntaxError(): CodeLocation | null {
    const tree = ensureSyntaxTree(this.view.state, this.view.state.doc.length, 1000);
    if (!tree) return null;
    let at: number | null = null;
    tree.iterate({
      enter: (node) => {
        if (at !== null) return false;
        if (node.type.isError) at = node.from;
        return undefined;
      },
    });
    if (at === null) return null;
    const line = this.view.state.doc.lineAt(at);
    return { line: line.number, column: at - line.from + 1 };
  }

  /** Marks the line an error comes from (or clears the marks). */
  mark(location: CodeLocation | null, message = ''): void {
    const diagnostics: Diagnostic[] = [];
    if (location && location.line >= 1 && location.line <= this.view.state.doc.lines) {
      const line = this.view.state.doc.line(location.line);
      diagnostics.push({ from: line.from, to: line.to, severity: 'error', message });
    }
    this.view.dispatch(setDiagnostics(this.view.state, diagnostics));
  }
}
