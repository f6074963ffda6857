import { expect, test } from 'vitest';
import { type RunResult, renderReport, resultRows, textTable } from 'seqgrad';

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

test('renderReport: a custom cell is drawn and labelled by its name, and the legend lists only the cells that ran', async () => {
  const runs = [run({ cell: 'lstm', label: 'lstm · no clipping' }), run({ cell: 'mgu', label: 'mgu · no clipping', history: [1, 2, 3, 4].map((step) => ({ step, loss: 2 / step, accuracy: step / 8, gradNorm: 2 * step })) })];
  const html = await renderReport({ title: 't', command: 'seqgrad experiment', settings: {}, tasks: { adding: 'x' }, runs, totalSeconds: 1 });
  const loss = /<figure class="plot" data-plot="loss">([\s\S]*?)<\/figure>/.exec(html)![1]!;
  // Two curves, each with its own stroke colour.
  const lines = [...loss.matchAll(/<path aria-label="[^"]*cell: (\w+);[^"]*"[^>]*aria-roledescription="line mark"[^>]*>/g)];
  const strokeOf = (cell: string) => lines.find((m) => m[1] === cell)?.[0].match(/stroke="(#[0-9a-f]{6})"/)?.[1];
  expect(strokeOf('mgu')).toBeTruthy();
  expect(strokeOf('lstm')).toBeTruthy();
  expect(strokeOf('mgu')).not.toBe(strokeOf('lstm'));
  const labels = [...loss.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);
  expect(labels).toContain('mgu');
  expect(labels).toContain('lstm');
  expect(labels).not.toContain('rnn');
  expect(labels).not.toContain('gru');
});
