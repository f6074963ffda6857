/**
 * The experiment report: vega-lite specs compiled by vega-lite, rendered to SVG by vega's
 * headless renderer (no browser, no canvas), inlined into one self-contained HTML file; and
 * the results as text and markdown tables. The run data it renders is in reportData.ts.
 */
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { type ReportInput, type RunResult, clipLabel } from './reportData.js';

export type { FlowPoint, HistoryPoint, ReportInput, RunResult } from './reportData.js';
export { clipLabel } from './reportData.js';

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';

/** Renders one vega-lite spec to an SVG string. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const vg = compile(spec).spec;
  const view = new vega.View(vega.parse(vg), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

const finite = (v: number) => Number.isFinite(v) && v > 0;

/** Facets in the order the runs were given (adding, echo, charlm), not alphabetical. */
function taskOrder(runs: RunResult[]): string[] {
  return [...new Set(runs.map((r) => r.task))];
}

function curveSpec(runs: RunResult[], field: 'loss' | 'accuracy' | 'gradNorm', title: string, log: boolean): TopLevelSpec {
  const values = runs.flatMap((r) =>
    r.history
      .filter((h) => (log ? finite(h[field]) : Number.isFinite(h[field])))
      .map((h) => ({ task: r.task, cell: r.cell, clipping: clipLabel(r.clip), step: h.step, value: h[field] })),
  );
  return {
    $schema: SCHEMA,
    title,
    data: { values },
    facet: { column: { field: 'task', type: 'nominal', title: null, sort: taskOrder(runs) } },
    spec: {
      width: 260,
      height: 180,
      mark: { type: 'line', strokeWidth: 1.5 },
      encoding: {
        x: { field: 'step', type: 'quantitative', title: 'training step' },
        y: { field: 'value', type: 'quantitative', title, scale: log ? { type: 'log' } : { domain: [0, 1] } },
        // The legend lists the cells that ran, in the order given (custom cells by their name).
        color: { field: 'cell', type: 'nominal', title: 'cell', scale: { domain: [...new Set(runs.map((r) => r.cell))] } },
        strokeDash: { field: 'clipping', type: 'nominal', title: 'clipping' },
        detail: { field: 'clipping', type: 'nominal' },
      },
    },
    resolve: { scale: { x: 'independent', y: 'independent' } },
  } as TopLevelSpec;
}

function heatmapSpec(runs: RunResult[]): TopLevelSpec {
  // Each measurement is a cell spanning [t − ½, t + ½] × [its step, the next measurement's step),
  // on quantitative axes so every facet gets readable ticks.
  const values = runs.flatMap((r) => {
    const steps = [...new Set(r.flow.map((f) => f.step))].sort((a, b) => a - b);
    const gap = steps.length > 1 ? steps[steps.length - 1]! - steps[steps.length - 2]! : 1;
    const next = new Map(steps.map((s, i) => [s, steps[i + 1] ?? s + gap]));
    return r.flow
      .filter((f) => finite(f.norm))
      .map((f) => ({ task: r.task, model: r.label, t0: f.t - 0.5, t1: f.t + 0.5, s0: f.step, s1: next.get(f.step)!, log10: Math.log10(f.norm) }));
  });
  return {
    $schema: SCHEMA,
    title: 'gradient flow: log10 ‖dL/dh_t‖ by time step t (x) and training step (y, down)',
    data: { values },
    facet: {
      row: { field: 'model', type: 'nominal', title: null, sort: [...new Set(runs.map((r) => r.label))], header: { labelAngle: 0, labelAlign: 'left' } },
      column: { field: 'task', type: 'nominal', title: null, sort: taskOrder(runs) },
    },
    spec: {
      width: 220,
      height: 100,
      mark: { type: 'rect' },
      encoding: {
        x: { field: 't0', type: 'quantitative', title: 'time step t', axis: { tickMinStep: 1 }, scale: { nice: false, zero: false } },
        x2: { field: 't1' },
        y: { field: 's0', type: 'quantitative', title: 'training step', scale: { reverse: true, nice: false, zero: false } },
        y2: { field: 's1' },
        color: { field: 'log10', type: 'quantitative', title: 'log10 ‖dL/dh_t‖', scale: { scheme: 'viridis' } },
      },
    },
    resolve: { scale: { x: 'independent', y: 'independent' } },
  } as TopLevelSpec;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export function fmtNum(v: number, digits = 4): string {
  if (!Number.isFinite(v)) return String(v);
  if (v !== 0 && (Math.abs(v) < 1e-3 || Math.abs(v) >= 1e5)) return v.toExponential(2);
  return v.toPrecision(digits);
}

/** The rows of the results table (also printed on the terminal). */
export function resultRows(runs: RunResult[]): string[][] {
  const head = ['task', 'cell', 'clipping', 'params', 'final loss', 'accuracy', 'bits/char', 'steps/s', 'time', 'note'];
  const rows = runs.map((r) => [
    r.task, r.cell, clipLabel(r.clip), String(r.parameters),
    Number.isFinite(r.finalLoss) ? fmtNum(r.finalLoss) : '—',
    Number.isFinite(r.finalAccuracy) ? `${(100 * r.finalAccuracy).toFixed(1)}%` : '—',
    r.bitsPerChar === undefined || !Number.isFinite(r.bitsPerChar) ? '' : r.bitsPerChar.toFixed(2), (r.steps / r.seconds).toFixed(1), `${r.seconds.toFixed(1)}s`,
    r.diverged ? 'diverged' : r.stopped ? `stopped at step ${r.steps}` : '',
  ]);
  return [head, ...rows];
}

/** A plain-text table with aligned columns. */
export function textTable(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const line = (r: string[]) => r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd();
  return [line(rows[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n');
}

/** The same rows as a Markdown table (docs/cli.md quotes one). */
export function markdownTable(rows: string[][]): string {
  const line = (r: string[]) => `| ${r.join(' | ')} |`;
  return [line(rows[0]!), line(rows[0]!.map(() => '---')), ...rows.slice(1).map(line)].join('\n');
}

/** Renders every plot and returns the self-contained report HTML. */
export async function renderReport(input: ReportInput): Promise<string> {
  const plots: { id: string; caption: string; spec: TopLevelSpec }[] = [
    { id: 'loss', caption: 'Training loss per model and task (log scale; MSE for adding, cross entropy in nats otherwise).', spec: curveSpec(input.runs, 'loss', 'loss', true) },
    { id: 'accuracy', caption: 'Accuracy: |error| < 0.04 for adding, top-1 symbol for echo, top-1 next character for charlm.', spec: curveSpec(input.runs, 'accuracy', 'accuracy', false) },
    { id: 'gradnorm', caption: 'Total gradient norm before clipping (log scale). Spikes are what clipping tames.', spec: curveSpec(input.runs, 'gradNorm', 'gradient norm before clipping', true) },
    { id: 'flow', caption: 'Gradient flow: the norm of the loss gradient reaching each hidden state h_t. A dark left side means the gradient vanishes before it reaches the early steps, so they cannot learn from the loss at the end.', spec: heatmapSpec(input.runs) },
  ];
  const figures: string[] = [];
  for (const p of plots) {
    const svg = await renderSvg(p.spec);
    figures.push(`<figure class="plot" data-plot="${p.id}">\n${svg}\n<figcaption>${esc(p.caption)}</figcaption>\n</figure>`);
  }
  const rows = resultRows(input.runs);
  const table = `<table class="results">\n<thead><tr>${rows[0]!.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead>\n<tbody>\n${rows
    .slice(1)
    .map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`)
    .join('\n')}\n</tbody>\n</table>`;
  const settings = Object.entries(input.settings).map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(String(v))}</td></tr>`).join('\n');
  const tasks = Object.entries(input.tasks).map(([k, v]) => `<li><b>${esc(k)}</b>: ${esc(v)}</li>`).join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${esc(input.title)}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; padding: 0 1em; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }
table.results td:nth-child(n+4) { text-align: right; }
figure.plot { margin: 1.5em 0; overflow-x: auto; }
figcaption { color: #555; font-size: 0.9em; max-width: 60em; }
code { background: #f4f4f4; padding: 0.1em 0.3em; }
</style>
</head>
<body>
<h1>${esc(input.title)}</h1>
<p><code>${esc(input.command)}</code> — ${input.runs.length} runs in ${input.totalSeconds.toFixed(1)} s.</p>
<h2>Tasks</h2>
<ul>
${tasks}
</ul>
<h2>Results</h2>
<p>Final loss and accuracy are averaged over the last 10% of training steps.</p>
${table}
<h2>Plots</h2>
${figures.join('\n')}
<h2>Settings</h2>
<table class="settings">
${settings}
</table>
</body>
</html>
`;
}
