import { expect, test } from 'vitest';
import { type RunResult, renderReport, resultRows, textTable } from '../../packages/cli/src/report.js';

function run(over: Partial<RunResult>): RunResult {
  return {
    task: 'adding', cell: 'rnn', clip: null, label: 'rnn · no clipping', steps: 4, seconds: 0.5, parameters: 10, diverged: false,
    finalLoss: 0.2, finalAccuracy: 0.1,
    history: [1, 2, 3, 4].map((step) => ({ step, loss: 1 / step, accuracy: step / 10, gradNorm: step })),
    flow: [0, 2, 4].flatMap((step) => [0, 1, 2].map((t) => ({ step, t, norm: 10 ** (t - 3) }))),
    ...over,
  };
}

test('renderReport: a diverged run (NaN and Infinity) and a run without flow still give four rendered plots', async () => {
  const diverged = run({
    cell: 'lstm', label: 'lstm · no clipping', diverged: true, finalLoss: NaN, finalAccuracy: NaN,
    history: [{ step: 1, loss: 2, accuracy: 0, gradNorm: 1e3 }, { step: 2, loss: Infinity, accuracy: 0, gradNorm: NaN }],
  });
  const noFlow = run({ cell: 'gru', clip: 1, label: 'gru · clip 1', flow: [] });
  const html = await renderReport({ title: 't', command: 'seqgrad experiment', settings: { steps: 4 }, tasks: { adding: 'x' }, runs: [run({}), diverged, noFlow], totalSeconds: 1 });
  const figures = html.match(/<figure class="plot" data-plot="(\w+)">\n<svg/g) ?? [];
  expect(figures).toHaveLength(4);
  expect(html).not.toMatch(/NaN<\/text>|Infinity<\/text>/);
  const table = textTable(resultRows([run({}), diverged]));
  expect(table.split('\n')).toHaveLength(4);
  expect(table).toMatch(/lstm\s+no clipping\s+10\s+—\s+—.*diverged/);
});
