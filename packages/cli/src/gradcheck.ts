/**
 * `seqgrad gradcheck`: checks a recurrent cell's gradients two ways and prints a verdict.
 *
 * 1. gradcheck (@seqgrad/autograd): autograd against central finite differences in float64,
 *    one time step at a time, so a disagreement is reported at the first time step t whose
 *    output h_t disagrees, with the parameter and the gate (row block) of the element.
 * 2. checkBptt (@seqgrad/layers): the cell's autograd gradients against the hand-derived BPTT
 *    (for the built-in cells, or a custom cell module that exports a backward), reporting the
 *    first (time step, gate, parameter) where they differ.
 */
import * as autograd from '@seqgrad/autograd';
import { GradcheckError, Generator, Tensor, gradcheck, narrow, randn, scan } from '@seqgrad/autograd';
import * as layers from '@seqgrad/layers';
import { type BpttCell, GRUCell, LSTMCell, type RecurrentCell, checkBptt, gruBpttCell, lstmBpttCell, rnnBpttCell } from '@seqgrad/layers';
import { CliError } from './errors.js';
import { isBuiltinCell } from './cellNames.js';
import { loadCellFactory, loadCellModule } from './cellModule.js';
import { builtinCell } from './sequenceModel.js';

export interface GradcheckCommandOptions {
  cell: string;
  batch: number;
  seqLen: number;
  input: number;
  hidden: number;
  seed: number;
}

/** Gate names by the row blocks of weight_ih / weight_hh / biases (PyTorch's order). */
export function gateNames(cell: RecurrentCell, gates: number): string[] {
  const own = (cell as { gateNames?: unknown }).gateNames;
  if (Array.isArray(own) && own.length === gates) return own.map(String);
  if (cell instanceof LSTMCell && gates === 4) return ['i (input gate)', 'f (forget gate)', 'g (cell candidate)', 'o (output gate)'];
  if (cell instanceof GRUCell && gates === 3) return ['r (reset gate)', 'z (update gate)', 'n (new gate)'];
  if (gates === 1) return ['h (the only block)'];
  return Array.from({ length: gates }, (_, k) => `block ${k} of ${gates}`);
}

async function makeCell(name: string, I: number, H: number, gen: Generator): Promise<RecurrentCell> {
  const opts = { dtype: 'float64' as const, generator: gen };
  if (isBuiltinCell(name)) return builtinCell(name, I, H, opts);
  const { factory } = await loadCellFactory(name);
  const cell = factory(I, H, opts);
  if (cell.dtype !== 'float64') {
    // A custom cell that ignores the dtype option is refused: finite differences in float32 are mostly noise.
    throw new CliError(`--cell ${name}: the cell was built in ${cell.dtype}; gradcheck needs float64 (pass the dtype option through to RecurrentCell: new Cell(I, H, { dtype }))`);
  }
  return cell;
}

/** Which gate a parameter element belongs to: its row (weights) or index (biases) over H. */
function describeElement(cell: RecurrentCell, paramName: string, shape: readonly number[], index: number[], H: number): string {
  const rows = shape[0]!;
  if (rows % H !== 0 || index.length === 0) return `${paramName}[${index.join(',')}]`;
  const gates = rows / H;
  const gate = Math.floor(index[0]! / H);
  return `${paramName}[${index.join(',')}], gate ${gateNames(cell, gates)[gate]}`;
}

export async function gradcheckCommand(opts: GradcheckCommandOptions): Promise<void> {
  const { batch: B, seqLen: T, input: I, hidden: H } = opts;
  const gen = new Generator(opts.seed);
  const cell = await makeCell(opts.cell, I, H, gen);
  const named = cell.namedParameters();
  const x = randn([B, T, I], { dtype: 'float64', generator: gen });
  x.requiresGrad = true;
  const s0 = cell.initialState(B);
  const state0: Record<string, Tensor> = {};
  for (const [k, v] of Object.entries(s0)) {
    const t = randn(v.shape, { dtype: 'float64', generator: gen });
    t.requiresGrad = true;
    state0[k] = t;
  }
  const stateKeys = Object.keys(state0);
  // Parameters first, so the first disagreement found names a weight row, hence a gate.
  const inputs: Tensor[] = [...named.map(([, p]) => p), x, ...stateKeys.map((k) => state0[k]!)];
  const names = [...named.map(([n]) => n), 'x', ...stateKeys.map((k) => `${k}0`)];
  // The state after steps 0..t, through scan as Recurrent runs the cell (compiled when it traces).
  const unrollTo = (t: number) => () => {
    const { state } = scan(cell, narrow(x, 1, 0, t + 1), state0 as Parameters<typeof cell.step>[1]);
    return stateKeys.map((k) => (state as Record<string, Tensor>)[k]!);
  };

  const lines: string[] = [];
  lines.push(`cell ${opts.cell}: B=${B}, T=${T}, I=${I}, H=${H}, float64, seed ${opts.seed}; parameters ${named.map(([n, p]) => `${n}[${p.shape.join(',')}]`).join(', ')}`);

  // 1. autograd vs finite differences, time step by time step.
  let fdOk = true;
  for (let t = 0; t < T && fdOk; t++) {
    if (gradcheck(unrollTo(t), inputs, { raise: false, names, seed: opts.seed })) continue;
    fdOk = false;
    let detail = '';
    try {
      gradcheck(unrollTo(t), inputs, { raise: true, names, seed: opts.seed });
    } catch (err) {
      if (!(err instanceof GradcheckError)) throw err;
      const m = /output (\d+)\S* element \[([\d,]*)\] with respect to input (\d+) \('([^']+)'\)\S* element \[([\d,]*)\]: numerical (\S+), analytical (\S+)/.exec(err.message);
      if (m) {
        const stateName = stateKeys[Number(m[1])] ?? `output ${m[1]}`;
        const elem = m[5]!.split(',').filter(Boolean).map(Number);
        const p = named.find(([n]) => n === m[4]);
        const where = p ? describeElement(cell, m[4]!, p[1].shape, elem, H) : `${m[4]}[${elem.join(',')}]`;
        detail = `d${stateName}_${t}[${m[2]}] / d${where}: numerical ${Number(m[6]).toPrecision(6)}, analytical ${Number(m[7]).toPrecision(6)}`;
      } else detail = err.message;
    }
    lines.push(`gradcheck (autograd vs finite differences): FAIL at time step t=${t}: ${detail}`);
  }
  if (fdOk) lines.push(`gradcheck (autograd vs finite differences): ok at every time step t=0..${T - 1} for x, ${stateKeys.map((k) => `${k}0`).join(', ')} and every parameter`);

  // 2. autograd vs the hand-derived BPTT.
  const bptt = await runCheckBptt(opts);
  lines.push(bptt.line);
  const ok = fdOk && bptt.ok !== false;
  lines.push(`verdict: ${ok ? 'PASS' : 'FAIL'}${ok ? ' — the gradients of this cell are right' : ' — see the first disagreement above'}`);
  process.stdout.write(`${lines.join('\n')}\n`);
  if (!ok) process.exitCode = 1;
}

/** The hand-written BPTT step to check: the built-in cells', or the one a cell module exports. */
async function bpttCellFor(opts: GradcheckCommandOptions): Promise<BpttCell | null> {
  const sizes = { inputSize: opts.input, hiddenSize: opts.hidden };
  if (opts.cell === 'rnn') return rnnBpttCell(sizes) as BpttCell;
  if (opts.cell === 'lstm') return lstmBpttCell(sizes) as BpttCell;
  if (opts.cell === 'gru') return gruBpttCell(sizes) as BpttCell;
  const mod = await loadCellModule(opts.cell);
  const exported = mod.bpttCell;
  if (exported === undefined) return null;
  const cell = typeof exported === 'function' ? (exported as (lib: unknown, i: number, h: number) => unknown)({ autograd, layers }, opts.input, opts.hidden) : exported;
  const c = cell as Partial<BpttCell>;
  if (!c || typeof c.composed !== 'function' || typeof c.forward !== 'function' || typeof c.backward !== 'function') {
    throw new CliError(`--cell ${opts.cell}: its 'bpttCell' export must be a BpttCell (name, inputSize, stateSizes, paramShapes, composed, forward, backward) or a function returning one`);
  }
  return c as BpttCell;
}

const GATE_LABELS: Record<string, string> = {
  i: 'i (input gate)', f: 'f (forget gate)', g: 'g (cell candidate)', o: 'o (output gate)', r: 'r (reset gate)', z: 'z (update gate)', n: 'n (new gate)',
};

/** checkBptt from @seqgrad/layers: the first (time step, gate or state, parameter) that disagrees. */
async function runCheckBptt(opts: GradcheckCommandOptions): Promise<{ ok: boolean | null; line: string }> {
  const cell = await bpttCellFor(opts);
  const head = 'checkBptt (autograd vs hand-derived BPTT)';
  if (!cell) return { ok: null, line: `${head}: skipped — the module exports no 'bpttCell' (a hand-written backward) to compare` };
  const report = checkBptt(cell, { batch: opts.batch, steps: opts.seqLen, seed: opts.seed });
  if (report.ok) return { ok: true, line: `${head}: ok — ${report.compared} values agree over ${opts.seqLen} steps (max |difference| ${report.maxAbsDiff.toExponential(1)})` };
  const f = report.first!;
  const at = `[${f.index.join(',')}]`;
  const gates = cell.gates ?? [];
  let what: string;
  if (f.kind === 'gate') what = `gate ${GATE_LABELS[f.name] ?? f.name}: dL/da${at} (pre-activation)`;
  else if (f.kind === 'param') {
    const rows = cell.paramShapes[f.name]?.[0] ?? 0;
    const blocks = gates.length;
    const per = blocks ? rows / blocks : 0;
    const gate = blocks && Number.isInteger(per) && per > 0 ? `, gate ${GATE_LABELS[gates[Math.floor(f.index[0]! / per)]!] ?? gates[Math.floor(f.index[0]! / per)]}` : '';
    what = `this step's gradient of ${f.name}${at}${gate}`;
  } else if (f.kind === 'state') what = `the gradient of the state ${f.name} entering the step (dL/d${f.name}_${f.step - 1}${at})`;
  else if (f.kind === 'input') what = `dL/dx_${f.step}${at}`;
  else what = `the forward value of ${f.name}_${f.step}${at}`;
  return { ok: false, line: `${head}: FAIL at time step t=${f.step}: ${what}: autograd ${f.autograd.toPrecision(6)}, hand ${f.hand.toPrecision(6)}` };
}
