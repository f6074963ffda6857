/**
 * The page: two runs side by side, each a Web Worker training one cell on the task set above,
 * with shared live charts (loss, accuracy, gradient norm before clipping), and per run the
 * gradient-flow heatmap, the gate activations, the gradient check and the error it hit.
 */
import type { CellEditor } from './editor.js';
import { type FlowRow, type Gates, LiveChart, RUN_COLOURS, drawGates, drawHeatmaps } from './plots.js';
import type { CellChoice, FromWorker, RunConfig, ToWorker } from './protocol.js';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const num = (id: string) => Number($<HTMLInputElement>(id).value);

// The editor (CodeMirror, most of the page's code) loads after the page is up.
let editor: CellEditor | null = null;
const editorReady = import('./editor.js').then((m) => (editor = new m.CellEditor($('editor'))));
const charts = {
  loss: new LiveChart($('chartLoss'), 'loss', ['run A', 'run B'], { log: true }),
  accuracy: new LiveChart($('chartAccuracy'), 'accuracy', ['run A', 'run B'], { yRange: [0, 1] }),
  gradNorm: new LiveChart($('chartGradNorm'), 'gradient norm before clipping', ['run A', 'run B'], { log: true }),
};

const CELL_LABELS: Record<CellChoice, string> = {
  rnn: 'RNN (tanh)',
  lstm: 'LSTM',
  gru: 'GRU',
  peephole: 'peephole LSTM (examples/cells)',
  layernorm: 'LayerNorm LSTM (examples/cells)',
  mgu: 'MGU (examples/cells)',
  custom: 'custom (editor)',
};

function settings(cell: CellChoice): RunConfig {
  return {
    cell,
    task: $<HTMLSelectElement>('task').value as RunConfig['task'],
    hidden: num('hidden'),
    batch: num('batch'),
    seqLen: num('seqLen'),
    delay: num('delay'),
    lr: num('lr'),
    clip: $<HTMLInputElement>('clipOn').checked ? num('clip') : null,
    seed: num('seed'),
    text: $<HTMLTextAreaElement>('text').value,
    code: editor?.code ?? '',
    probeEvery: Math.max(1, num('probeEvery')),
    forgetBias: $<HTMLInputElement>('forgetBias').value.trim() === '' ? null : num('forgetBias'),
  };
}

class RunView {
  readonly worker: Worker;
  readonly el: HTMLElement;
  readonly cellSelect: HTMLSelectElement;
  readonly status: HTMLElement;
  readonly source: HTMLElement;
  readonly errorBox: HTMLElement;
  readonly verdict: HTMLElement;
  readonly heatmap: HTMLCanvasElement;
  readonly gatesCanvas: HTMLCanvasElement;
  readonly sampler: HTMLElement;
  readonly sampled: HTMLElement;
  /** The task of the run's model (the sampler shows for a character LM). */
  task: RunConfig['task'] = 'echo';
  flow: FlowRow[] = [];
  gates: Gates | null = null;
  step = 0;
  running = false;
  ready = false;
  describe = '';
  params = 0;
  /** Threads of the GEMM in this run's worker (more than 1 on a cross-origin-isolated page). */
  gemmThreads = 1;
  last = { loss: NaN, accuracy: NaN, gradNorm: NaN, ms: NaN };
  /** Milliseconds from the first Train or Step of a fresh run until its first trained step arrived. */
  firstStepMs: number | null = null;
  private initAt = 0;
  private trainAt = 0;

  constructor(readonly index: number, cell: CellChoice) {
    this.el = $(`run${index}`);
    const name = index === 0 ? 'A' : 'B';
    this.el.innerHTML = `
      <h2><span class="swatch" style="background:${RUN_COLOURS[index]}"></span>run ${name}</h2>
      <div class="buttons">
        <label>cell <select class="cell">${Object.entries(CELL_LABELS).map(([v, l]) => `<option value="${v}">${l}</option>`).join('')}</select></label>
        <button class="train">Train</button><button class="pause">Pause</button><button class="step">Step</button>
        <button class="reset">Reset</button><button class="check">Check gradients</button>
        <button class="save">Save</button><button class="onnx">Export ONNX</button><label class="load">Load <input type="file" class="load" accept=".safetensors"></label>
      </div>
      <div class="source"></div>
      <div class="status"></div>
      <pre class="error" hidden></pre>
      <pre class="verdict" hidden></pre>
      <div class="sampler buttons" hidden>
        <label>prompt <input class="prompt" value="the "></label>
        <label>length <input class="length" type="number" min="1" max="5000" value="200"></label>
        <label>temperature <input class="temperature" type="number" min="0" step="0.1" value="0.8"></label>
        <label>seed <input class="sampleSeed" type="number" value="0"></label>
        <button class="sample">Sample text</button>
      </div>
      <pre class="sampled" hidden></pre>
      <figure><canvas class="heatmap" width="560" height="260"></canvas>
        <figcaption>Gradient flow: ‖dL/dh_t‖ for each time step t (across) at each probe (down). Dark on the left: the loss gradient vanishes before it reaches the early steps.</figcaption></figure>
      <figure><canvas class="gates" width="560" height="300"></canvas>
        <figcaption>Gate activations for one sequence (units down, time across).</figcaption></figure>`;
    this.cellSelect = this.el.querySelector('select.cell')!;
    this.cellSelect.value = cell;
    this.status = this.el.querySelector('.status')!;
    this.source = this.el.querySelector('.source')!;
    this.errorBox = this.el.querySelector('.error')!;
    this.verdict = this.el.querySelector('.verdict')!;
    this.heatmap = this.el.querySelector('canvas.heatmap')!;
    this.gatesCanvas = this.el.querySelector('canvas.gates')!;
    this.sampler = this.el.querySelector('.sampler')!;
    this.sampled = this.el.querySelector('pre.sampled')!;
    this.worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
    this.worker.onmessage = (ev: MessageEvent<FromWorker>) => this.receive(ev.data);
    this.worker.onerror = (ev) => this.showError(`worker: ${ev.message}`);
    const on = (cls: string, f: () => void) => this.el.querySelector(`button.${cls}`)!.addEventListener('click', f);
    on('train', () => this.train());
    on('pause', () => this.send({ type: 'pause' }));
    on('step', () => {
      this.ensureReady();
      if (!this.trainAt) this.trainAt = performance.now();
      this.send({ type: 'step' });
    });
    on('reset', () => this.reset());
    on('check', () => { this.ensureReady(); this.verdict.hidden = false; this.verdict.className = 'verdict'; this.verdict.textContent = 'checking…'; this.send({ type: 'check' }); });
    this.cellSelect.addEventListener('change', () => this.reset());
    on('sample', () => this.sample());
    on('save', () => this.send({ type: 'save' }));
    on('onnx', () => this.send({ type: 'exportOnnx' }));
    const fileInput = this.el.querySelector<HTMLInputElement>('input.load')!;
    fileInput.addEventListener('change', () => {
      const file = fileInput.files?.[0];
      if (file) void file.arrayBuffer().then((buf) => this.load(new Uint8Array(buf), file.name));
      fileInput.value = '';
    });
    this.reset();
  }

  get label(): string {
    return `${this.index === 0 ? 'A' : 'B'}: ${CELL_LABELS[this.cellSelect.value as CellChoice]}`;
  }

  send(msg: ToWorker): void {
    this.worker.postMessage(msg);
  }

  ensureReady(): void {
    if (!this.ready && !this.initAt) this.reset();
  }

  train(): void {
    this.ensureReady();
    if (!this.trainAt) this.trainAt = performance.now();
    this.send({ type: 'run', until: num('until') });
  }

  /** Continues the prompt from the run's character LM, in its worker. */
  sample(): void {
    const field = (cls: string) => this.el.querySelector<HTMLInputElement>(`input.${cls}`)!.value;
    this.sampled.hidden = false;
    this.sampled.dataset.status = 'sampling';
    this.sampled.textContent = 'sampling…';
    this.send({ type: 'sample', prompt: field('prompt'), length: Number(field('length')), temperature: Number(field('temperature')), seed: Number(field('sampleSeed')) });
  }

  reset(): void {
    this.flow = [];
    this.sampled.hidden = true;
    this.gates = null;
    this.step = 0;
    this.ready = false;
    this.firstStepMs = null;
    this.trainAt = 0;
    this.errorBox.hidden = true;
    this.verdict.hidden = true;
    this.el.dataset.error = '';
    this.source.textContent = '';
    delete this.el.dataset.source;
    for (const c of Object.values(charts)) {
      c.clear(this.index);
      c.setLabel(this.index, this.label);
    }
    if (this.cellSelect.value === 'custom' && !editor) {
      void editorReady.then(() => this.reset());
      return;
    }
    const config = settings(this.cellSelect.value as CellChoice);
    if (config.cell === 'custom' && editor) {
      const at = editor.syntaxError();
      if (at) {
        this.showError(`syntax error in the cell code`, at);
        return;
      }
      showEditorError(null, '');
    }
    this.initAt = performance.now();
    this.task = config.task;
    this.send({ type: 'init', config });
    this.render();
  }

  /**
   * Replaces this run by the model in a file (a playground file or a `seqgrad train`
   * checkpoint); a file that cannot be loaded leaves the run as it was, with the error shown.
   */
  load(bytes: Uint8Array, name: string): void {
    this.errorBox.hidden = true;
    this.el.dataset.error = '';
    this.send({ type: 'load', bytes, name, config: settings(this.cellSelect.value as CellChoice) });
  }

  showError(message: string, location: { line: number; column: number } | null = null): void {
    const where = location ? `line ${location.line}, column ${location.column}: ` : '';
    this.errorBox.hidden = false;
    this.errorBox.textContent = `${where}${message}`;
    this.el.dataset.error = this.errorBox.textContent;
    if (this.cellSelect.value === 'custom') showEditorError(location, `${where}${message}`);
  }

  receive(msg: FromWorker): void {
    if (msg.type === 'ready') {
      this.ready = true;
      this.describe = msg.describe;
      this.params = msg.params;
      this.gemmThreads = msg.gemmThreads;
      this.el.dataset.gemmThreads = String(msg.gemmThreads);
      this.el.title = msg.threadsNote ?? `large products run on ${msg.gemmThreads} threads (the GEMM's Web Worker pool)`;
    } else if (msg.type === 'stats') {
      for (const s of msg.stats) {
        charts.loss.push(this.index, s.step, s.loss);
        charts.accuracy.push(this.index, s.step, s.accuracy);
        charts.gradNorm.push(this.index, s.step, s.gradNorm);
        this.step = s.step;
        this.last = s;
        if (this.firstStepMs === null) {
          this.firstStepMs = performance.now() - this.trainAt;
          // Milliseconds since the page's navigation started.
          this.el.dataset.firstStepAt = performance.now().toFixed(0);
        }
      }
    } else if (msg.type === 'flow') {
      this.flow.push({ step: msg.step, norms: msg.norms });
      drawAllHeatmaps();
    } else if (msg.type === 'gates') {
      this.gates = msg;
      drawGates(this.gatesCanvas, this.gates);
    } else if (msg.type === 'state') {
      this.running = msg.running;
      this.step = msg.step;
    } else if (msg.type === 'check') {
      this.verdict.hidden = false;
      this.verdict.className = `verdict ${msg.ok ? 'ok' : 'bad'}`;
      this.verdict.textContent = `${msg.ok ? '✔ gradients agree' : '✘ gradients disagree'}\n${msg.lines.join('\n')}`;
      this.verdict.dataset.ok = String(msg.ok);
    } else if (msg.type === 'loaded') {
      this.flow = [];
      this.gates = null;
      this.firstStepMs = null;
      this.trainAt = 0;
      this.verdict.hidden = true;
      for (const c of Object.values(charts)) c.clear(this.index);
      this.cellSelect.value = msg.config.cell;
      this.task = msg.config.task;
      this.sampled.hidden = true;
      this.source.textContent = `loaded ${msg.source}`;
      this.el.dataset.source = msg.source;
      for (const c of Object.values(charts)) c.setLabel(this.index, this.label);
    } else if (msg.type === 'saved') {
      const url = URL.createObjectURL(new Blob([msg.bytes as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }));
      const a = document.createElement('a');
      a.href = url;
      a.download = msg.name;
      a.click();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } else if (msg.type === 'sampled') {
      this.sampled.textContent = msg.text;
      this.sampled.dataset.status = 'done';
    } else if (msg.type === 'error') {
      if (this.sampled.dataset.status === 'sampling') this.sampled.dataset.status = 'error';
      this.showError(msg.message, msg.location);
    }
    this.render();
  }

  render(): void {
    const f = (v: number, d = 4) => (Number.isFinite(v) ? v.toFixed(d) : '–');
    this.status.textContent = this.ready
      ? `${this.describe} · ${this.params} parameters · GEMM on ${this.gemmThreads} thread${this.gemmThreads > 1 ? 's' : ''}\nstep ${this.step}${this.running ? ' (training)' : ''} · loss ${f(this.last.loss)} · accuracy ${f(this.last.accuracy, 3)} · ‖g‖ ${f(this.last.gradNorm, 3)} · ${f(this.last.ms, 1)} ms/step`
      : 'building…';
    this.sampler.hidden = this.task !== 'charlm';
    this.el.dataset.step = String(this.step);
    this.el.dataset.running = String(this.running);
    this.el.dataset.ready = String(this.ready);
    this.el.dataset.accuracy = String(this.last.accuracy);
    this.el.dataset.firstStepMs = this.firstStepMs === null ? '' : this.firstStepMs.toFixed(0);
  }
}

function showEditorError(location: { line: number; column: number } | null, message: string): void {
  const box = $('editorError');
  box.hidden = !message;
  box.textContent = message;
  editor?.mark(location, message);
}

const runs = [new RunView(0, 'rnn'), new RunView(1, 'lstm')];

function drawAllHeatmaps(): void {
  drawHeatmaps(runs.map((r) => r.heatmap), runs.map((r) => r.flow));
}

$('trainBoth').addEventListener('click', () => runs.forEach((r) => r.train()));
$('pauseBoth').addEventListener('click', () => runs.forEach((r) => r.send({ type: 'pause' })));
$('resetBoth').addEventListener('click', () => runs.forEach((r) => r.reset()));
const syncTaskFields = () => {
  const task = $<HTMLSelectElement>('task').value;
  $('textLabel').hidden = task !== 'charlm';
  $<HTMLInputElement>('delay').disabled = task !== 'echo';
};
$('task').addEventListener('change', () => { syncTaskFields(); runs.forEach((r) => r.reset()); });
syncTaskFields();
const text = $<HTMLTextAreaElement>('text');
text.addEventListener('dragover', (e) => e.preventDefault());
text.addEventListener('drop', (e) => {
  e.preventDefault();
  const file = e.dataTransfer?.files[0];
  if (file) void file.text().then((t) => { text.value = t; });
});

const frame = () => {
  for (const c of Object.values(charts)) c.redraw();
  requestAnimationFrame(frame);
};
requestAnimationFrame(frame);

// Offline once loaded: the service worker caches the build (not in Vite's dev server).
if (import.meta.env.PROD && 'serviceWorker' in navigator) {
  navigator.serviceWorker.register('./sw.js').catch((err: unknown) => console.warn(`offline use unavailable: ${String(err)}`));
}

// For the end-to-end tests and the console: the editor and the runs.
Object.assign(window, {
  playground: {
    get editor() {
      return editor;
    },
    runs,
    charts,
  },
});
