/**
 * The page's "Check gradients" for a cell's step: `gradcheck` (autograd against central finite
 * differences, in float64) on the cell unrolled over a few steps, with the inputs named by
 * time step, so a disagreement says at which step it enters.
 */
import { Generator, GradcheckError, type ScanState, type ScanStep, type Tensor, gradcheck, randn, scan, select, stack } from '@seqgrad/autograd';
import { GRUCell, LSTMCell, RNNCell, type RecurrentCell } from '@seqgrad/layers';
import { type CellFactory, describeError } from './cellCode.js';
import type { CellChoice } from './protocol.js';

export const CHECK_STEPS = 3;

export function checkCellStep(choice: CellChoice, factory: CellFactory | undefined, I: number, H: number, seed: number): { ok: boolean; message: string } {
  const generator = new Generator(seed);
  const opts = { dtype: 'float64' as const, generator };
  let cell: RecurrentCell;
  if (choice === 'rnn') cell = new RNNCell(I, H, opts);
  else if (choice === 'lstm') cell = new LSTMCell(I, H, opts);
  else if (choice === 'gru') cell = new GRUCell(I, H, opts);
  else if (factory) cell = factory(I, H, opts);
  else throw new Error(`checkCellStep: no factory for cell '${choice}'`);
  const B = 2;
  const xs = Array.from({ length: CHECK_STEPS }, () => randn([B, I], { dtype: 'float64', requiresGrad: true, generator }));
  const stateNames = Object.keys(cell.stateSizes);
  const states = stateNames.map((n) => randn([B, cell.stateSizes[n]!], { dtype: 'float64', requiresGrad: true, generator }).mul(0.5).detach());
  states.forEach((s) => (s.requiresGrad = true));
  const named = cell.namedParameters();
  const inputs = [...xs, ...states, ...named.map(([, p]) => p)];
  const names = [...xs.map((_, t) => `x_${t}`), ...stateNames.map((n) => `${n}_{-1}`), ...named.map(([n]) => n)];
  // Every step's new state is an output: a wrong gradient shows at the first step it reaches.
  // The steps run through scan, as in training; each x_t stays an input of its own.
  const unrolled = (...args: Tensor[]): Tensor[] => {
    const init = Object.fromEntries(stateNames.map((n, k) => [n, args[CHECK_STEPS + k]!])) as ScanState;
    const run = scan(cell as unknown as ScanStep<ScanState>, stack(args.slice(0, CHECK_STEPS), 1), init, { collect: stateNames.filter((n) => n !== 'h') });
    const outs: Tensor[] = [];
    for (let t = 0; t < CHECK_STEPS; t++) {
      for (const n of stateNames) outs.push(select(n === 'h' ? run.output : run.sequences[n]!, 1, t));
    }
    return outs;
  };
  try {
    gradcheck(unrolled, inputs, { names });
    return { ok: true, message: `gradcheck: autograd agrees with finite differences for every input, state and parameter over ${CHECK_STEPS} steps (float64, batch ${B}, input ${I}, hidden ${H})` };
  } catch (err) {
    if (!(err instanceof GradcheckError)) throw err;
    // Outputs are listed step by step, each step's states in stateSizes order.
    const output = /output (\d+)/.exec(err.message);
    const k = output ? Number(output[1]) : -1;
    const what = k >= 0 ? ` (output ${k} is ${stateNames[k % stateNames.length]} after step ${Math.floor(k / stateNames.length)})` : '';
    const where = /'x_(\d+)'/.exec(err.message);
    const step = where ? ` — the gradient is wrong from time step ${where[1]} on` : '';
    return { ok: false, message: `${describeError(err)}${what}${step}` };
  }
}
