import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Generator } from '@seqgrad/autograd';
import { importOnnx } from '@seqgrad/io';
import { echoTask, main } from 'seqgrad';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';

// The page's globals inside functions that run in the page (see page.ts).
declare const document: any;
declare const navigator: any;
declare const window: any;
import { buildCli, seqgrad, tmp } from '../cli/helpers.js';
import { type Session, accuracyOf, chartOf, bothReady, buildPage, data, dataAll, inked, flowOf, openPage, openSession, root, useCustomCell, waitFor } from './page.js';

// Screenshots of each state, used by docs/playground.md.
const shots = join(root, 'docs/playground');
let session: Session;

beforeAll(async () => {
  buildPage();
  mkdirSync(shots, { recursive: true });
  session = await openSession();
}, 120_000);

afterAll(async () => {
  await session?.close();
});

const mean = (xs: readonly (number | null)[]) => xs.reduce<number>((s, v) => s + (v ?? 0), 0) / xs.length;

test('playground: the page loads with both runs built in their workers and no console error', async () => {
  const { page, errors } = await openPage(session);
  const status = await page.locator('.run .status').allTextContents();
  expect(status[0]).toMatch(/delayed echo, T=20, k=5.*parameters/);
  expect(status[1]).toMatch(/delayed echo, T=20, k=5.*parameters/);
  expect([await page.inputValue('#run0 select.cell'), await page.inputValue('#run1 select.cell')]).toEqual(['rnn', 'lstm']);
  // Served with COOP and COEP, the page is cross-origin isolated and each run's worker has the GEMM's pool.
  expect(await page.evaluate(() => window.crossOriginIsolated)).toBe(true);
  const cores = await page.evaluate(() => Math.min(16, navigator.hardwareConcurrency));
  expect(await dataAll(page, '.run', 'gemmThreads')).toEqual([String(cores), String(cores)]);
  expect(status[0]).toContain(`GEMM on ${cores} thread`);
  expect(errors).toEqual([]);
  await page.close();
});

test('playground: products over the pool threshold (hidden 256, batch 256) train on the GEMM pool: its workers start, and two runs of the same LSTM give the same losses', async () => {
  const { page, errors } = await openPage(session);
  const workers: string[] = [];
  session.context.on('request', (req) => {
    if (/gemmWorker-[\w-]+\.js$/.test(req.url())) workers.push(req.url());
  });
  await page.fill('#hidden', '256');
  await page.fill('#batch', '256');
  await page.fill('#seqLen', '8');
  await page.selectOption('#run0 select.cell', 'lstm');
  await page.click('#resetBoth');
  await waitFor(page, bothReady);
  for (let k = 1; k <= 3; k++) {
    await page.click('#run0 button.step');
    await page.click('#run1 button.step');
    await waitFor(page, (n) => ['run0', 'run1'].every((id) => document.getElementById(id).dataset.step === String(n)), k, 120_000);
  }
  // The two runs are the same LSTM on the same batches; threads change no bit of a product.
  expect(await chartOf(page, 'loss', 0)).toEqual(await chartOf(page, 'loss', 1));
  expect(workers.length).toBeGreaterThan(0);
  expect(errors).toEqual([]);
  await page.close();
}, 240_000);

test('playground: an LSTM on delayed echo trains 100 steps in the worker, its accuracy rises, and the heatmap and gates are drawn', async () => {
  const { page, errors } = await openPage(session);
  await page.fill('#until', '100');
  await page.click('#run1 button.train');
  // The page stays responsive while the worker trains: the main thread answers between steps.
  await waitFor(page, () => Number(document.getElementById('run1').dataset.step) >= 20);
  const during = await page.evaluate(() => new Promise<number>((ok) => { const t = performance.now(); setTimeout(() => ok(performance.now() - t), 0); }));
  expect(during).toBeLessThan(200);
  await waitFor(page, () => document.getElementById('run1').dataset.step === '100' && document.getElementById('run1').dataset.running === 'false', undefined, 120_000);
  const accuracy = await accuracyOf(page, 1);
  expect(accuracy).toHaveLength(100);
  const first = mean(accuracy.slice(0, 10));
  const last = mean(accuracy.slice(90));
  // Chance is 1/8; 100 Adam steps take an LSTM well past it.
  expect(first).toBeLessThan(0.25);
  expect(last).toBeGreaterThan(first + 0.15);
  // Probes at steps 0, 10, ..., 100: eleven rows of ‖dL/dh_t‖ over the 20 time steps.
  expect(await data(page, '#run1 canvas.heatmap', 'rows')).toBe('11');
  expect(await inked(page, '#run1 canvas.heatmap')).toBeGreaterThan(5000);
  expect(await data(page, '#run1 canvas.gates', 'gates')).toBe('i (input),f (forget),g (candidate),o (output)');
  expect(await inked(page, '#run1 canvas.gates')).toBeGreaterThan(5000);
  // Run A (the RNN) was not trained: one heatmap row, from its initial weights.
  expect(await data(page, '#run0 canvas.heatmap', 'rows')).toBe('1');
  expect(errors).toEqual([]);
  await page.screenshot({ path: join(shots, 'lstm-echo.png'), fullPage: true });
  await page.close();
});

test('playground: an RNN and an LSTM side by side on the adding problem; at initialisation the RNN gradient vanishes before the first step and the LSTM one reaches it', async () => {
  const { page, errors } = await openPage(session);
  await page.selectOption('#task', 'adding');
  await page.fill('#seqLen', '40');
  await page.fill('#until', '60');
  // f = σ(3 + …) ≈ 0.95 at the start: the LSTM's cell state carries the gradient back in time.
  await page.fill('#forgetBias', '3');
  await page.click('#resetBoth');
  await waitFor(page, bothReady);
  await page.click('#trainBoth');
  await waitFor(page, () => ['run0', 'run1'].every((id) => document.getElementById(id).dataset.step === '60' && document.getElementById(id).dataset.running === 'false'), undefined, 120_000);
  expect(await dataAll(page, '.run canvas.heatmap', 'rows')).toEqual(['7', '7']);
  // The adding problem's loss reads h_39 only: ‖dL/dh_0‖ / ‖dL/dh_39‖ is how much of it reaches
  // the first step. At the initialisation (the first heatmap row), through the RNN's tanh and
  // W_hh it is all but gone, while along the LSTM's cell state a measurable part arrives.
  const [rnn, lstm] = [await flowOf(page, 0), await flowOf(page, 1)];
  expect(rnn.map((r) => r.step)).toEqual([0, 10, 20, 30, 40, 50, 60]);
  const reach = (norms: number[]) => norms[0]! / norms[39]!;
  expect(reach(rnn[0]!.norms)).toBeLessThan(1e-6);
  expect(reach(lstm[0]!.norms)).toBeGreaterThan(1e-3);
  expect(errors).toEqual([]);
  await page.screenshot({ path: join(shots, 'rnn-vs-lstm.png'), fullPage: true });
  await page.close();
});

test('playground: without clipping, an RNN on the adding problem at a high learning rate shows gradient-norm spikes with loss jumps', async () => {
  const { page, errors } = await openPage(session);
  await page.selectOption('#task', 'adding');
  await page.fill('#lr', '0.1');
  await page.uncheck('#clipOn');
  await page.fill('#until', '300');
  await page.click('#resetBoth');
  await waitFor(page, bothReady);
  await page.click('#run0 button.train');
  await waitFor(page, () => document.getElementById('run0').dataset.step === '300' && document.getElementById('run0').dataset.running === 'false', undefined, 120_000);
  const median = (xs: (number | null)[]) => [...xs].map(Number).sort((p, q) => p - q)[Math.floor(xs.length / 2)]!;
  const norms = await chartOf(page, 'gradNorm', 0);
  const losses = await chartOf(page, 'loss', 0);
  expect(norms).toHaveLength(300);
  const n = norms.map(Number);
  const l = losses.map(Number);
  expect(Math.max(...n)).toBeGreaterThan(10 * median(n));
  // The largest loss comes at or right after a step whose gradient norm was a spike.
  const worst = l.indexOf(Math.max(...l));
  expect(l[worst]).toBeGreaterThan(10 * median(l));
  expect(Math.max(...n.slice(Math.max(0, worst - 2), worst + 1))).toBeGreaterThan(10 * median(n));
  expect(errors).toEqual([]);
  await page.screenshot({ path: join(shots, 'no-clipping.png'), fullPage: true });
  await page.close();
});

test('playground: once loaded, the page works offline: it reloads, builds both runs, trains and opens the editor from the service worker cache', async () => {
  const { page, errors } = await openPage(session);
  await waitFor(page, () => navigator.serviceWorker.controller !== null);
  await session.context.setOffline(true);
  try {
    // Offline, nothing reaches the server: a plain fetch of a file not in the build fails.
    expect(await page.evaluate(() => fetch('./not-in-the-build.txt').then(() => 'fetched', () => 'failed'))).toBe('failed');
    errors.length = 0; // the console reports that failed fetch
    await page.reload();
    await waitFor(page, bothReady);
    await page.click('#run1 button.step');
    await waitFor(page, () => document.getElementById('run1').dataset.step === '1');
    await waitFor(page, () => window.playground.editor !== null);
    expect(errors).toEqual([]);
  } finally {
    await session.context.setOffline(false);
    await page.close();
  }
});

// Line 6 multiplies x (B, 8) by the recurrent weights (H, H): a shape error inside the step.
const SHAPE_ERROR_CELL = `({ autograd, layers }, inputSize, hiddenSize, opts) => {
  const { add, linear, tanh, zeros } = autograd;
  class BrokenCell extends layers.RecurrentCell {
    stateSizes = { h: hiddenSize };
    step(x, { h }) {
      return { h: tanh(add(linear(x, this.weightHh), linear(h, this.weightIh))) };
    }
    constructor() {
      super(inputSize, hiddenSize, opts);
      this.weightIh = this.registerParameter('weight_ih', zeros([hiddenSize, inputSize]));
      this.weightHh = this.registerParameter('weight_hh', zeros([hiddenSize, hiddenSize]));
    }
  }
  return new BrokenCell();
}`;

test('playground: a custom cell with a shape error gets the library message at the line it comes from', async () => {
  const { page, errors } = await openPage(session);
  await useCustomCell(page, SHAPE_ERROR_CELL);
  await waitFor(page, () => document.getElementById('run0').dataset.error !== '');
  const message = await page.$eval('#run0 .error', (e) => e.textContent!);
  expect(message).toMatch(/^line 6, column \d+: /);
  expect(message).toMatch(/linear/);
  expect(message).toMatch(/\[32,32\]|\[32, 32\]/);
  // The editor shows the same message and marks line 6.
  expect(await page.$eval('#editorError', (e) => e.textContent)).toBe(message);
  const marked = await page.$$eval('.cm-lintRange-error', (els) => els.map((e) => e.textContent));
  expect(marked.join('')).toContain('linear(x, this.weightHh)');
  expect(errors).toEqual([]);
  await page.locator('#editorPanel').scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(shots, 'shape-error.png'), fullPage: true });
  await page.close();
});

test('playground: a syntax error in the editor is located by the parser before the worker sees the code', async () => {
  const { page } = await openPage(session);
  await useCustomCell(page, SHAPE_ERROR_CELL.replace('stateSizes = { h: hiddenSize };', 'stateSizes = { h: hiddenSize ;'));
  await waitFor(page, () => document.getElementById('run0').dataset.error !== '');
  expect(await page.$eval('#run0 .error', (e) => e.textContent!)).toMatch(/^line 4, column \d+: syntax error/);
  await page.close();
});

// The minimal gated unit of docs/custom-cells.md as a TypeScript module, as docs/playground.md
// shows it: imports from the packages, an interface, type annotations, `as` casts and an
// exported class. It is examples/cells/mgu.mjs op for op, so with the same seed it trains to
// the same losses.
const TS_MGU_MODULE = /```ts\n(import[\s\S]*?export class MGUCell[\s\S]*?)```/.exec(readFileSync(join(root, 'docs/playground.md'), 'utf8'))![1]!;

test('playground: a TypeScript module cell (imports, an interface, annotations, as casts) trains to the same losses as the same cell in JavaScript', async () => {
  const { page, errors } = await openPage(session);
  await page.selectOption('#run1 select.cell', 'mgu');
  await useCustomCell(page, TS_MGU_MODULE);
  await waitFor(page, bothReady);
  expect(await data(page, '#run0', 'error')).toBe('');
  await page.fill('#until', '30');
  await page.click('#trainBoth');
  await waitFor(page, () => ['run0', 'run1'].every((id) => document.getElementById(id).dataset.step === '30' && document.getElementById(id).dataset.running === 'false'));
  const ts = await chartOf(page, 'loss', 0);
  expect(ts).toEqual(await chartOf(page, 'loss', 1));
  const losses = ts.filter((v): v is number => v !== null);
  expect(losses).toHaveLength(30);
  expect(mean(losses.slice(-5))).toBeLessThan(mean(losses.slice(0, 5)));
  expect(errors).toEqual([]);
  await page.close();
});

// Line 7 multiplies x (B, 8) by the recurrent weights (H, H); the types before the call on that
// line are stripped, so its column is the editor's only if it is mapped back.
const TS_SHAPE_ERROR_MODULE = `import { type Tensor, add, linear, tanh, zeros } from '@seqgrad/autograd';
import * as layers from '@seqgrad/layers';

export default class BrokenCell extends layers.RecurrentCell<{ h: Tensor }> {
  readonly stateSizes: { h: number } = { h: this.hiddenSize };
  step(x: Tensor, { h }: { h: Tensor }): { h: Tensor } {
    const a: Tensor = (x as Tensor), b: Tensor = linear(a, this.weightHh as Tensor);
    return { h: tanh(add(b, linear(h, this.weightIh))) };
  }
  readonly weightIh: Tensor;
  readonly weightHh: Tensor;
  constructor(inputSize: number, hiddenSize: number, opts: object) {
    super(inputSize, hiddenSize, opts);
    this.weightIh = this.registerParameter('weight_ih', zeros([hiddenSize, inputSize]));
    this.weightHh = this.registerParameter('weight_hh', zeros([hiddenSize, hiddenSize]));
  }
}
`;

test('playground: a type-annotated cell with a shape error gets the library message at its line and column; an import of another package or of a name it lacks is refused at its line', async () => {
  const { page, errors } = await openPage(session);
  await useCustomCell(page, TS_SHAPE_ERROR_MODULE);
  await waitFor(page, () => document.getElementById('run0').dataset.error !== '');
  const message = await page.$eval('#run0 .error', (e) => e.textContent!);
  const at = /^line (\d+), column (\d+): /.exec(message);
  expect(at, message).not.toBeNull();
  expect(Number(at![1])).toBe(7);
  // The column falls inside the failing call as the editor shows it, types and all.
  const line = TS_SHAPE_ERROR_MODULE.split('\n')[6]!;
  const call = line.indexOf('linear(a, this.weightHh as Tensor)');
  expect(Number(at![2])).toBeGreaterThan(call);
  expect(Number(at![2])).toBeLessThanOrEqual(call + 'linear(a, this.weightHh as Tensor)'.length);
  expect(message).toMatch(/linear/);
  expect(message).toMatch(/\[32,32\]|\[32, 32\]/);
  const marked = await page.$$eval('.cm-lintRange-error', (els) => els.map((e) => e.textContent));
  expect(marked.join('')).toContain('linear(a, this.weightHh as Tensor)');

  // Only the page's own packages can be imported; nothing is fetched.
  await page.evaluate((text) => {
    window.playground.editor.code = text;
  }, TS_SHAPE_ERROR_MODULE.replace("import * as layers from '@seqgrad/layers';", "import * as layers from '@seqgrad/layers';\nimport { Adam } from '@seqgrad/optim';"));
  await page.click('#run0 button.reset');
  await waitFor(page, () => /optim/.test(document.getElementById('run0').dataset.error));
  expect(await page.$eval('#run0 .error', (e) => e.textContent!)).toMatch(/^line 3, column \d+: import '@seqgrad\/optim': a cell in the editor can import '@seqgrad\/autograd' and '@seqgrad\/layers'/);

  // A name the package does not export is refused where it is used, as an ES module would refuse it.
  await page.evaluate((text) => {
    window.playground.editor.code = text;
  }, TS_SHAPE_ERROR_MODULE.replace(' add, linear,', ' add, lineer as linear,'));
  await page.click('#run0 button.reset');
  await waitFor(page, () => /lineer/.test(document.getElementById('run0').dataset.error));
  expect(await page.$eval('#run0 .error', (e) => e.textContent!)).toMatch(/^line 7, column \d+: SyntaxError: the module '@seqgrad\/autograd' has no export named 'lineer'/);
  expect(errors).toEqual([]);
  await page.close();
});

// A tanh whose hand-written backward forgets the factor (1 − y²).
const WRONG_BACKWARD_CELL = `({ autograd, layers }, inputSize, hiddenSize, opts) => {
  const { add, defineFunction, linear, zeros } = autograd;
  const myTanh = defineFunction({
    forward: (ctx, a) => a.tanh(),
    backward: (ctx, g) => g,
  });
  class TanhCell extends layers.RecurrentCell {
    stateSizes = { h: hiddenSize };
    constructor() {
      super(inputSize, hiddenSize, opts);
      const k = 1 / Math.sqrt(hiddenSize);
      this.weightIh = this.registerParameter('weight_ih', zeros([hiddenSize, inputSize], { dtype: this.dtype }));
      this.weightHh = this.registerParameter('weight_hh', zeros([hiddenSize, hiddenSize], { dtype: this.dtype }));
      for (const t of [this.weightIh, this.weightHh]) layers.init.uniform(t, -k, k, { generator: opts.generator });
    }
    step(x, { h }) {
      return { h: myTanh(add(linear(x, this.weightIh), linear(h, this.weightHh))) };
    }
  }
  return new TanhCell();
}`;

test('playground: the gradient check catches a custom backward that is wrong and names the time step', async () => {
  const { page, errors } = await openPage(session);
  await useCustomCell(page, WRONG_BACKWARD_CELL);
  await waitFor(page, () => document.getElementById('run0').dataset.ready === 'true');
  await page.click('#run0 button.check');
  await waitFor(page, () => document.querySelector('#run0 .verdict').dataset.ok !== undefined);
  const verdict = { ok: await data(page, '#run0 .verdict', 'ok'), text: await page.textContent('#run0 .verdict') };
  expect(verdict.ok).toBe('false');
  expect(verdict.text).toMatch(/gradients disagree/);
  expect(verdict.text).toMatch(/'x_0'/);
  expect(verdict.text).toMatch(/\(output 0 is h after step 0\) — the gradient is wrong from time step 0 on/);
  // The same check passes for the built-in LSTM, through checkBptt and gradcheck.
  await page.click('#run1 button.check');
  await waitFor(page, () => document.querySelector('#run1 .verdict').dataset.ok !== undefined);
  const lstm = { ok: await data(page, '#run1 .verdict', 'ok'), text: await page.textContent('#run1 .verdict') };
  expect(lstm.ok).toBe('true');
  expect(lstm.text).toMatch(/checkBptt: the hand-derived BPTT of LSTM agrees/);
  expect(errors).toEqual([]);
  await page.screenshot({ path: join(shots, 'gradcheck.png'), fullPage: true });
  await page.close();
});

test('playground: the cells of examples/cells train in a run, and the MGU passes checkBptt against its hand-written BPTT and gradcheck', async () => {
  const { page, errors } = await openPage(session);
  await page.selectOption('#run0 select.cell', 'peephole');
  await page.selectOption('#run1 select.cell', 'mgu');
  await waitFor(page, bothReady);
  expect(await page.textContent('#run0 .status')).toMatch(/parameters/);
  await page.fill('#until', '5');
  await page.click('#trainBoth');
  await waitFor(page, () => ['run0', 'run1'].every((id) => document.getElementById(id).dataset.step === '5' && document.getElementById(id).dataset.running === 'false'));
  expect(await data(page, '#run0 canvas.gates', 'gates')).toBe('h (state),c (state)');
  // The ‖dL/dh_t‖ heatmap is measured for these cells too (scan with a zero probe on every h_t).
  for (const run of [0, 1]) {
    const flow = await flowOf(page, run);
    expect(flow.length).toBeGreaterThan(0);
    expect(flow[0]!.norms.length).toBeGreaterThan(1);
    expect(flow[0]!.norms.every((v) => Number.isFinite(v))).toBe(true);
    expect(flow[0]!.norms.at(-1)).toBeGreaterThan(0);
  }
  await page.click('#run1 button.check');
  await waitFor(page, () => document.querySelector('#run1 .verdict').dataset.ok !== undefined);
  expect(await data(page, '#run1 .verdict', 'ok')).toBe('true');
  expect(await page.textContent('#run1 .verdict')).toMatch(/checkBptt: the hand-written BPTT of examples\/cells\/mgu.mjs agrees[\s\S]*gradcheck: autograd agrees/);
  expect(errors).toEqual([]);
  await page.close();
});

test('playground: a checkpoint written by seqgrad train loads into a run, which goes on from its step with its accuracy; a saved run loads back; the ONNX export does the task', async () => {
  buildCli();
  const dir = tmp('seqgrad-playground-');
  try {
    const ckpt = join(dir, 'echo-lstm.safetensors');
    const r = await seqgrad(['train', '--task', 'echo', '--cell', 'lstm', '--hidden', '16', '--steps', '200', '--lr', '0.02', '--out', ckpt, '--progress', 'lines']);
    expect(r.code, r.stderr).toBe(0);
    const cliAccuracy = Number(/accuracy ([\d.]+)%/.exec(r.stdout + r.stderr)![1]) / 100;
    expect(cliAccuracy).toBeGreaterThan(0.4);

    const { page, errors } = await openPage(session);
    await page.setInputFiles('#run1 input.load', ckpt);
    await waitFor(page, () => document.getElementById('run1').dataset.source !== undefined && document.getElementById('run1').dataset.ready === 'true');
    expect(await data(page, '#run1', 'source')).toBe('echo-lstm.safetensors: seqgrad train checkpoint (step 200)');
    // LSTM 4·16·(8 + 16) + 2·4·16, head 16·8 + 8.
    expect(await page.textContent('#run1 .status')).toMatch(/delayed echo, T=20, k=5.* 1800 parameters/);
    await page.click('#run1 button.step');
    await waitFor(page, () => document.getElementById('run1').dataset.step === '201');
    // A fresh LSTM starts at chance (1/8); the loaded one at about what the CLI measured.
    const loaded = Number(await data(page, '#run1', 'accuracy'));
    expect(loaded).toBeGreaterThan(cliAccuracy - 0.15);

    // Save run B and load the file into run A: the same weights, so the same model size and a trained accuracy.
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#run1 button.save')]);
    expect(download.suggestedFilename()).toBe('playground-echo-lstm-step201.safetensors');
    const saved = join(dir, download.suggestedFilename());
    await download.saveAs(saved);
    await page.setInputFiles('#run0 input.load', saved);
    await waitFor(page, () => document.getElementById('run0').dataset.source !== undefined && document.getElementById('run0').dataset.ready === 'true');
    expect(await data(page, '#run0', 'source')).toBe('playground-echo-lstm-step201.safetensors: playground file (step 201)');
    expect(await page.inputValue('#run0 select.cell')).toBe('lstm');
    await page.click('#run0 button.step');
    await waitFor(page, () => document.getElementById('run0').dataset.step === '202');
    expect(Number(await data(page, '#run0', 'accuracy'))).toBeGreaterThan(cliAccuracy - 0.15);

    // Export run B as ONNX: the graph, read back by @seqgrad/io's importer, does the task as the trained model does.
    const [onnxDownload] = await Promise.all([page.waitForEvent('download'), page.click('#run1 button.onnx')]);
    expect(onnxDownload.suggestedFilename()).toBe('playground-echo-lstm-step201.onnx');
    const onnxPath = join(dir, onnxDownload.suggestedFilename());
    await onnxDownload.saveAs(onnxPath);
    const graph = importOnnx(new Uint8Array(readFileSync(onnxPath)));
    const task = echoTask(20, 5, 8);
    const batch = task.batch(64, new Generator(5));
    const { output } = graph.run({ input: batch.input });
    expect(output!.shape).toEqual([64, 20, 8]);
    expect(task.evaluate(output!, batch).accuracy).toBeGreaterThan(cliAccuracy - 0.15);

    await page.screenshot({ path: join(shots, 'checkpoint.png'), fullPage: true });

    // A file that is neither is refused with a message, not loaded.
    const bogus = join(dir, 'bogus.safetensors');
    writeFileSync(bogus, Buffer.from('not a safetensors file at all'));
    await page.setInputFiles('#run0 input.load', bogus);
    await waitFor(page, () => document.getElementById('run0').dataset.error !== '');
    expect(await page.textContent('#run0 .error')).toMatch(/safetensors/i);
    // Run A is still the saved run.
    expect(await data(page, '#run0', 'step')).toBe('202');
    expect(await data(page, '#run0', 'ready')).toBe('true');
    expect(errors).toEqual([]);
    await page.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('playground: a character LM written by seqgrad train loads and samples what seqgrad sample prints for the same seed; a char-LM trained on the page samples too', async () => {
  buildCli();
  const dir = tmp('seqgrad-playground-');
  try {
    const ckpt = join(dir, 'lm.safetensors');
    // The CLI's programmatic entry, in this process: a small LSTM character LM on the built-in story.
    const code = await main(['train', '--task', 'charlm', '--cell', 'lstm', '--hidden', '24', '--batch', '8', '--seq-len', '16', '--steps', '40', '--progress', 'none', '--out', ckpt]);
    expect(code).toBe(0);
    const sampleArgs = { prompt: 'the ', length: '120', temperature: '0.7', sampleSeed: '5' };
    const cli = await seqgrad(['sample', '--checkpoint', ckpt, '--prompt', sampleArgs.prompt, '--length', sampleArgs.length, '--temperature', sampleArgs.temperature, '--seed', sampleArgs.sampleSeed]);
    expect(cli.code, cli.stderr).toBe(0);

    const { page, errors } = await openPage(session);
    // Echo has no text to sample: the sampler shows only for a character LM.
    expect(await page.isVisible('#run1 .sampler')).toBe(false);
    await page.setInputFiles('#run1 input.load', ckpt);
    await waitFor(page, () => document.getElementById('run1').dataset.source !== undefined && document.getElementById('run1').dataset.ready === 'true');
    expect(await data(page, '#run1', 'source')).toBe('lm.safetensors: seqgrad train checkpoint (step 40)');
    for (const [cls, value] of Object.entries(sampleArgs)) await page.fill(`#run1 input.${cls}`, value);
    await page.click('#run1 button.sample');
    await waitFor(page, () => document.querySelector('#run1 pre.sampled').dataset.status !== 'sampling');
    expect(await data(page, '#run1 pre.sampled', 'status')).toBe('done');
    expect(`${await page.textContent('#run1 pre.sampled')}\n`).toBe(cli.stdout);
    await page.screenshot({ path: join(shots, 'sample.png'), fullPage: true });

    // A prompt outside the vocabulary is refused with the library's message.
    await page.fill('#run1 input.prompt', 'the €');
    await page.click('#run1 button.sample');
    await waitFor(page, () => document.getElementById('run1').dataset.error !== '');
    expect(await page.textContent('#run1 .error')).toMatch(/sampleText: prompt character "€" is not in the model's vocabulary/);

    // A character LM trained on the page: a pasted text, 30 steps, then text of its characters, the same for the same seed.
    await page.selectOption('#task', 'charlm');
    await page.fill('#text', 'abcabcabcabd '.repeat(40));
    await page.click('#resetBoth');
    await waitFor(page, bothReady);
    await page.fill('#until', '30');
    await page.click('#run0 button.train');
    await waitFor(page, () => document.getElementById('run0').dataset.step === '30' && document.getElementById('run0').dataset.running === 'false', undefined, 120_000);
    const sampleRun0 = async () => {
      await page.click('#run0 button.sample');
      await waitFor(page, () => document.querySelector('#run0 pre.sampled').dataset.status === 'done');
      const text = (await page.textContent('#run0 pre.sampled'))!;
      await page.evaluate(() => { document.querySelector('#run0 pre.sampled').dataset.status = ''; });
      return text;
    };
    await page.fill('#run0 input.prompt', 'ab');
    await page.fill('#run0 input.length', '50');
    const first = await sampleRun0();
    expect(Array.from(first)).toHaveLength(52);
    expect(first).toMatch(/^ab[abcd ]{50}$/);
    expect(await sampleRun0()).toBe(first);
    expect(errors).toEqual([]);
    await page.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 240_000);

test('seqgrad playground: serves the built page on 127.0.0.1 and prints its address; a bad port is one line', async () => {
  buildCli();
  const bad = await seqgrad(['playground', '--port', '70000']);
  expect(bad.code).toBe(1);
  expect(bad.stderr.trim()).toBe("seqgrad: --port must be an integer from 0 to 65535 (0: any free port), got '70000'");
  const child = spawn(process.execPath, [join(root, 'packages/cli/dist/cli.js'), 'playground', '--port', '0'], { cwd: root });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d) => {
        out += d;
        const m = /seqgrad playground: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
        if (m) resolve(m[1]!);
      });
      child.on('exit', (code) => reject(new Error(`seqgrad playground exited with ${code}: ${out}`)));
    });
    const res = await fetch(url);
    expect(res.status).toBe(200);
    // Cross-origin isolated, so the page's workers get the GEMM's Web Worker pool.
    expect(res.headers.get('cross-origin-opener-policy')).toBe('same-origin');
    expect(res.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
    expect(await res.text()).toContain('<title>');
    expect((await fetch(new URL('../../etc/passwd', url))).status).not.toBe(200);
  } finally {
    child.kill();
  }
});
