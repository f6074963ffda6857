/**
 * One training run in a Web Worker: builds the task and the model, trains step by step while
 * told to run, and sends the page each step's loss, accuracy and gradient norm (before
 * clipping), and at regular steps ‖dL/dh_t‖ over time and one sequence's gate activations.
 */
import { Generator, type ScanState, type ScanStep, type Tensor, noGrad, scan, tensor } from '@seqgrad/autograd';
import { gemmThreads, setNumThreads, threadsUnavailableReason } from '@seqgrad/autograd/threads';
import { sampleText } from 'seqgrad/model';
import {
  type BpttCell, type CellParams, Recurrent, type RecurrentCell, checkBptt, gruBpttCell, gruForward, hiddenGradients, lstmBpttCell, lstmForward, rnnBpttCell, rnnForward,
} from '@seqgrad/layers';
import { Adam, clipGradNorm, gradNorm } from '@seqgrad/optim';
import { type Task, makeTask } from 'seqgrad/tasks';
import layerNormLstm from 'seqgrad-example-cells/layernorm-lstm';
import mgu, { bpttCell as mguBpttCell } from 'seqgrad-example-cells/mgu';
import peepholeLstm from 'seqgrad-example-cells/peephole-lstm';
import { CellCodeError, type CellFactory, type StripTypes, cellFactoryOf, compileCell, describeError, errorLocation } from './cellCode.js';
import { checkCellStep } from './check.js';
import type { RunFile } from './files.js';

/** Saving, loading and exporting (with @seqgrad/io) load on first use, so training starts sooner. */
const files = () => import('./files.js');

/** The editor's type stripper (sucrase), loaded the first time a run builds the editor's cell. */
let stripTypes: StripTypes | null = null;
async function loadStripTypes(config: RunConfig): Promise<void> {
  if (config.cell === 'custom' && !stripTypes) stripTypes = (await import('./typescript.js')).stripTypes;
}
import { LIBRARY, PlaygroundModel, isCell } from './model.js';
import type { FromWorker, RunConfig, StepStats, ToWorker } from './protocol.js';

interface Run {
  config: RunConfig;
  task: Task;
  model: PlaygroundModel;
  factory: CellFactory | undefined;
  params: Tensor[];
  optimizer: Adam;
  data: Generator;
  step: number;
}

// On a cross-origin-isolated page (as served) large products run on the GEMM's Web Worker pool,
// every core the browser reports; elsewhere on this thread, and the page shows why.
const threadsNote = threadsUnavailableReason();
if (threadsNote === null) setNumThreads('auto');

let run: Run | null = null;
let running = false;
/** Stop at this step when running (undefined: until paused). */
let until: number | undefined;
/** Steps trained since the last message to the page, sent together at most every 50 ms. */
let pending: StepStats[] = [];
let lastPost = 0;

const post = (msg: FromWorker) => (self as unknown as Worker).postMessage(msg);

function fail(err: unknown): void {
  running = false;
  post({ type: 'error', message: describeError(err), location: err instanceof CellCodeError ? err.location : errorLocation(err) });
  post({ type: 'state', running: false, step: run?.step ?? 0 });
}

const EXAMPLES = { peephole: peepholeLstm, layernorm: layerNormLstm, mgu } as const;

/** The factory of a cell that is not a built-in layer: an example's or the editor's. */
function cellFactory(config: RunConfig): CellFactory | undefined {
  if (config.cell === 'custom') {
    if (!stripTypes) throw new Error('the editor\'s cell is built before its type stripper has loaded');
    return compileCell(config.code, LIBRARY, isCell, stripTypes);
  }
  if (config.cell in EXAMPLES) return cellFactoryOf(EXAMPLES[config.cell as keyof typeof EXAMPLES], LIBRARY, isCell, `examples/cells ${config.cell}`);
  return undefined;
}

function build(config: RunConfig, vocab?: string[]): Run {
  const task = makeTask(config.task, {
    seqLen: config.seqLen, delay: config.delay, symbols: 8, text: config.task === 'charlm' && config.text.trim() ? config.text : undefined, vocab,
  });
  const factory = cellFactory(config);
  const model = new PlaygroundModel(config.cell, task, config.hidden, new Generator(config.seed), factory, config.forgetBias);
  const params = model.parameters();
  // The data stream is seeded apart from the initialisation, so two runs with the same seed see the same batches.
  return { config, task, model, factory, params, optimizer: new Adam(params, { lr: config.lr }), data: new Generator(config.seed + 1_000_003), step: 0 };
}

function trainStep(r: Run): StepStats {
  const start = performance.now();
  const batch = r.task.batch(r.config.batch, r.data);
  const out = r.model.forward(batch.input);
  const { loss, accuracy } = r.task.evaluate(out, batch);
  r.optimizer.zeroGrad();
  loss.backward();
  const norm = r.config.clip === null ? gradNorm(r.params) : clipGradNorm(r.params, r.config.clip);
  r.optimizer.step();
  r.step += 1;
  return { step: r.step, loss: loss.item(), accuracy, gradNorm: norm, ms: performance.now() - start };
}

/** The built-in layer's weights in the hand BPTT's layout (PyTorch's names, layer 0). */
function cellParams(r: Run): CellParams {
  const sd = r.model.rnn.stateDict();
  return { weightIh: sd.weight_ih_l0!.data, weightHh: sd.weight_hh_l0!.data, biasIh: sd.bias_ih_l0!.data, biasHh: sd.bias_hh_l0!.data } as CellParams;
}

/** A probe batch, the same at every measurement, drawn apart from the training stream. */
function probeBatch(r: Run) {
  return r.task.batch(r.config.batch, new Generator(r.config.seed + 77));
}

/**
 * ‖dL/dh_t‖ for every t on the probe batch, by `hiddenGradients` (scan with a zero probe added
 * to every h_t): what reaches h_t directly plus what flows back from h_{t+1}. Any cell: a
 * built-in layer's cell shares the layer's parameters.
 */
function measureFlow(r: Run): number[] {
  const batch = probeBatch(r);
  const x = noGrad(() => r.model.embed(batch.input));
  const rnn = r.model.rnn;
  const cell = (rnn instanceof Recurrent ? rnn.cell : rnn.cell()) as unknown as ScanStep<ScanState> & { initialState(B: number): ScanState };
  const { norms } = hiddenGradients(cell, x, cell.initialState(x.shape[0]!), (s) => r.task.evaluate(r.model.readout(s.output), batch).loss);
  return Array.from(norms);
}

/** The first probe sequence's gate activations (LSTM i, f, g, o; GRU r, z, n; RNN and custom cells: the states). */
function measureGates(r: Run): { names: string[]; T: number; H: number; values: number[][] } {
  const batch = probeBatch(r);
  const H = r.config.hidden;
  const x = noGrad(() => r.model.embed(batch.input));
  const [, T, I] = x.shape as [number, number, number];
  const x0 = x.data.slice(0, T * I) as Float32Array;
  const dims = { B: 1, T, I, H };
  // (T, G·H) → one (T·H) array per gate, time-major.
  const split = (a: ArrayLike<number>, names: string[]) => {
    const G = names.length;
    const values = names.map((_, g) => {
      const out: number[] = new Array(T * H);
      for (let t = 0; t < T; t++) for (let j = 0; j < H; j++) out[t * H + j] = a[t * G * H + g * H + j]!;
      return out;
    });
    return { names, T, H, values };
  };
  if (r.config.cell === 'lstm') return split(lstmForward(cellParams(r), x0, null, null, dims).cache.gates, ['i (input)', 'f (forget)', 'g (candidate)', 'o (output)']);
  if (r.config.cell === 'gru') return split(gruForward(cellParams(r), x0, null, dims, { resetAfter: true }).cache.gates, ['r (reset)', 'z (update)', 'n (candidate)']);
  if (r.config.cell === 'rnn') return split(rnnForward(cellParams(r), x0, null, dims).output, ['h (hidden state)']);
  const cell = (r.model.rnn as { cell: RecurrentCell }).cell;
  return noGrad(() => {
    const init = cell.initialState(1) as ScanState;
    const names = Object.keys(init);
    // Every state entry at every step, (1, T, n) each, through scan; the first H units of each.
    const run = scan(cell as unknown as ScanStep<ScanState>, tensor(Array.from(x0), { shape: [1, T, I] }), init, { collect: names.filter((n) => n !== 'h') });
    const values = names.map((n) => {
      const seq = n === 'h' ? run.output : run.sequences[n]!;
      const size = seq.shape[2]!;
      const out: number[] = [];
      for (let t = 0; t < T; t++) out.push(...Array.from(seq.data.subarray(t * size, t * size + Math.min(size, H))));
      return out;
    });
    return { names: names.map((n) => `${n} (state)`), T, H, values };
  });
}

function probe(r: Run): void {
  post({ type: 'flow', step: r.step, norms: measureFlow(r) });
  post({ type: 'gates', step: r.step, ...measureGates(r) });
}

function flush(force: boolean): void {
  const now = performance.now();
  if (pending.length > 0 && (force || now - lastPost > 50)) {
    post({ type: 'stats', stats: pending });
    pending = [];
    lastPost = now;
  }
}

function oneStep(r: Run): void {
  pending.push(trainStep(r));
  if (r.step % r.config.probeEvery === 0) {
    flush(true);
    probe(r);
  }
}

/** Trains while running, one step per task so that pause and step messages get through between steps. */
function loop(): void {
  if (!running || !run) return;
  try {
    oneStep(run);
    flush(false);
    if (until !== undefined && run.step >= until) {
      running = false;
      flush(true);
      post({ type: 'state', running: false, step: run.step });
      return;
    }
  } catch (err) {
    flush(true);
    fail(err);
    return;
  }
  setTimeout(loop, 0);
}

function check(r: Run): void {
  const { config } = r;
  const lines: string[] = [];
  let ok = true;
  const I = r.model.recurrentInputSize;
  const H = Math.min(config.hidden, 6);
  if (config.cell === 'mgu' && mguBpttCell) {
    const report = checkBptt(mguBpttCell(LIBRARY, I, H), { steps: 5, seed: config.seed });
    ok &&= report.ok;
    lines.push(report.ok
      ? `checkBptt: the hand-written BPTT of examples/cells/mgu.mjs agrees with its composed step at every step and gate (${report.compared} values, max |difference| ${report.maxAbsDiff.toExponential(1)})`
      : `checkBptt: ${report.first!.message}`);
  }
  if (config.cell === 'rnn' || config.cell === 'lstm' || config.cell === 'gru') {
    const sizes = { inputSize: I, hiddenSize: H };
    const bpttCell = config.cell === 'rnn' ? rnnBpttCell(sizes) : config.cell === 'lstm' ? lstmBpttCell(sizes) : gruBpttCell(sizes);
    const report = checkBptt(bpttCell as BpttCell, { steps: 5, seed: config.seed });
    ok &&= report.ok;
    lines.push(report.ok
      ? `checkBptt: the hand-derived BPTT of ${config.cell.toUpperCase()} agrees with autograd at every step and gate (${report.compared} values, max |difference| ${report.maxAbsDiff.toExponential(1)})`
      : `checkBptt: ${report.first!.message}`);
  }
  const verdict = checkCellStep(config.cell, r.factory, I, H, config.seed);
  ok &&= verdict.ok;
  lines.push(verdict.message);
  post({ type: 'check', ok, lines });
}

/**
 * Messages are handled one after the other: an init that waits for the type stripper holds back
 * the messages sent after it, which expect its run.
 */
let queue: Promise<void> = Promise.resolve();
self.onmessage = (ev: MessageEvent<ToWorker>) => {
  queue = queue.then(() => handle(ev.data));
};

async function handle(msg: ToWorker): Promise<void> {
  try {
    if (msg.type === 'init') {
      running = false;
      pending = [];
      run = null;
      await loadStripTypes(msg.config);
      run = build(msg.config);
      post({ type: 'ready', describe: run.task.describe(), params: run.params.reduce((n, p) => n + p.size, 0), gemmThreads: gemmThreads(), threadsNote });
      probe(run);
      post({ type: 'state', running: false, step: 0 });
      return;
    }
    if (msg.type === 'load') {
      running = false;
      pending = [];
      void files().then(async (io) => {
        const file: RunFile = io.readRunFile(msg.bytes, msg.config, msg.name);
        await loadStripTypes(file.config);
        const loaded = build(file.config, file.vocab);
        io.loadWeights(msg.bytes, loaded.model, msg.name);
        loaded.step = file.step;
        run = loaded;
        post({ type: 'loaded', source: `${msg.name}: ${file.source}`, config: file.config });
        post({ type: 'ready', describe: run.task.describe(), params: run.params.reduce((n, p) => n + p.size, 0), gemmThreads: gemmThreads(), threadsNote });
        probe(run);
        post({ type: 'state', running: false, step: run.step });
      }).catch(fail);
      return;
    }
    if (!run) throw new Error('no run: send init first');
    if (msg.type === 'run') {
      until = msg.until;
      if (!running) {
        running = true;
        post({ type: 'state', running: true, step: run.step });
        setTimeout(loop, 0);
      }
    } else if (msg.type === 'pause') {
      running = false;
      flush(true);
      post({ type: 'state', running: false, step: run.step });
    } else if (msg.type === 'step') {
      running = false;
      oneStep(run);
      flush(true);
      post({ type: 'state', running: false, step: run.step });
    } else if (msg.type === 'check') {
      check(run);
    } else if (msg.type === 'sample') {
      if (!run.task.vocab) throw new Error(`sampling needs a character LM; this run's task is ${run.config.task}`);
      const text = sampleText(run.model, run.task.vocab, { prompt: msg.prompt, length: msg.length, temperature: msg.temperature, generator: new Generator(msg.seed) });
      post({ type: 'sampled', text });
    } else if (msg.type === 'exportOnnx') {
      const r = run;
      void files().then((io) => {
        post({ type: 'saved', bytes: io.exportRunOnnx(r.model), name: `playground-${r.config.task}-${r.config.cell}-step${r.step}.onnx` });
      }).catch(fail);
    } else if (msg.type === 'save') {
      const r = run;
      void files().then((io) => {
        post({ type: 'saved', bytes: io.saveRun(r.model, r.config, r.step, r.task.vocab), name: `playground-${r.config.task}-${r.config.cell}-step${r.step}.safetensors` });
      }).catch(fail);
    }
  } catch (err) {
    fail(err);
  }
}
