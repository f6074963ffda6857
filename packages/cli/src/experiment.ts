/**
 * `seqgrad experiment`: a tanh RNN, an LSTM and a GRU on the adding problem, delayed echo and a
 * character LM, with and without gradient clipping, all seeded; a results table on stdout and
 * reports/<run>/report.html (plus results.json with every number behind the plots).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { CliError } from './errors.js';
import { type ProgressHandle, type ProgressMode, createProgress } from './progress.js';
import { type RunResult, renderReport, resultRows, textTable } from './report.js';
import { type RunEvent, type RunSpec, executeRun, runLabel } from './run.js';
import { TASK_DEFAULTS, type TaskName, makeTask } from './tasks.js';
import { readText } from './train.js';
import { FIXED_SIZES, type TrainConfig } from './trainer.js';

export interface ExperimentOptions {
  tasks: TaskName[];
  cells: string[];
  clip: (number | null)[];
  steps: number | null;
  batch: number;
  hidden: number;
  lr: number;
  seqLen: number | null;
  delay: number;
  text: string | null;
  seed: number;
  forgetBias: number;
  flowEvery: number | null;
  jobs: number | null;
  out: string | null;
  progress: ProgressMode;
}

function timestamp(d = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

/** A worker thread that runs specs one after another, forwarding their events. */
class RunWorker {
  private readonly worker = new Worker(new URL('./run-worker.js', import.meta.url));
  private pending: { resolve: (r: RunResult) => void; reject: (e: unknown) => void; emit: (e: RunEvent) => void } | null = null;

  constructor() {
    this.worker.on('message', (m: RunEvent | { type: 'error'; message: string }) => {
      const p = this.pending;
      if (!p) return;
      if (m.type === 'error') {
        this.pending = null;
        p.reject(new CliError(m.message));
      } else {
        p.emit(m);
        if (m.type === 'done') {
          this.pending = null;
          p.resolve(m.result);
        }
      }
    });
    this.worker.on('error', (err) => this.pending?.reject(err));
    this.worker.on('exit', (code) => this.pending?.reject(new CliError(`a training worker exited with code ${code} before finishing`)));
  }

  run(spec: RunSpec, emit: (e: RunEvent) => void): Promise<RunResult> {
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject, emit };
      this.worker.postMessage(spec);
    });
  }

  /** Ends the current run early (Ctrl-C); its result still arrives. */
  stop(): void {
    this.worker.postMessage('stop');
  }

  close(): Promise<number> {
    return this.worker.terminate();
  }
}

export async function experimentCommand(opts: ExperimentOptions): Promise<void> {
  const text = opts.text === null ? undefined : readText(opts.text);
  const tasks = [...new Set(opts.tasks)];
  const cells = [...new Set(opts.cells)];
  const clips = [...new Set(opts.clip)];
  const specs: RunSpec[] = [];
  const descriptions: Record<string, string> = {};
  for (const task of tasks) {
    const seqLen = opts.seqLen ?? TASK_DEFAULTS[task].seqLen;
    const steps = opts.steps ?? TASK_DEFAULTS[task].steps;
    descriptions[task] = makeTask(task, { seqLen, delay: opts.delay, text }).describe();
    for (const cell of cells) {
      for (const clip of clips) {
        const config: TrainConfig = {
          task, cell, hidden: opts.hidden, layers: 1, bidirectional: false, steps, batch: opts.batch, lr: opts.lr,
          clip, seed: opts.seed, seqLen, delay: opts.delay, ...FIXED_SIZES, text: opts.text ?? '',
          forgetBias: cell === 'lstm' ? opts.forgetBias : undefined,
        };
        specs.push({ config, text, logEvery: Math.max(1, Math.floor(steps / 60)), flowEvery: opts.flowEvery ?? Math.max(1, Math.ceil(steps / 15)) });
      }
    }
  }
  const jobs = Math.max(1, Math.min(opts.jobs ?? Math.min(2, availableParallelism()), specs.length));
  const outDir = opts.out ?? join('reports', timestamp());
  mkdirSync(outDir, { recursive: true });

  const stepsText = tasks.map((t) => `${t} ${opts.steps ?? TASK_DEFAULTS[t].steps}`).join(', ');
  process.stderr.write(`experiment: ${specs.length} runs (${tasks.join(', ')} × ${cells.join(', ')} × ${clips.map((c) => (c === null ? 'no clipping' : `clip ${c}`)).join(', ')}), steps ${stepsText}, ${jobs} in parallel\n`);
  const progress = createProgress(opts.progress, (total) => Math.max(1, Math.ceil(total / 5)));
  let stopped = false;
  let pool: RunWorker[] = [];
  // The first Ctrl-C ends the running runs early and reports what was trained; a second quits.
  const onSigint = () => {
    if (stopped) process.exit(130);
    stopped = true;
    progress.log('Ctrl-C: stopping the running runs and writing the report of what was trained (Ctrl-C again to quit at once)');
    for (const w of pool) w.stop();
  };
  process.on('SIGINT', onSigint);
  const t0 = performance.now();
  const results: RunResult[] = new Array(specs.length);
  let next = 0;
  const labels = specs.map((sp) => `${sp.config.task.padEnd(Math.max(...tasks.map((t) => t.length)))} ${runLabel(sp.config.cell, sp.config.clip)}`);
  const labelWidth = Math.max(...labels.map((l) => l.length));
  pool = jobs === 1 ? [] : Array.from({ length: jobs }, () => new RunWorker());
  const worker = async (_: unknown, w: number) => {
    while (next < specs.length && !stopped) {
      const i = next++;
      const spec = specs[i]!;
      const bar: ProgressHandle = progress.start(labels[i]!.padEnd(labelWidth), spec.config.steps);
      const emit = (e: RunEvent) => {
        if (e.type === 'progress') bar.update(e.step, e.loss, e.accuracy);
      };
      results[i] = jobs === 1 ? await executeRun(spec, emit, () => stopped) : await pool[w]!.run(spec, emit);
      if (results[i]!.diverged) bar.log(`diverged at step ${results[i]!.steps}`);
      bar.stop();
    }
  };
  try {
    await Promise.all(Array.from({ length: jobs }, worker));
  } finally {
    process.off('SIGINT', onSigint);
    progress.close();
    await Promise.all(pool.map((p) => p.close()));
  }
  const totalSeconds = (performance.now() - t0) / 1000;
  const done = results.filter(Boolean);
  if (stopped) process.stderr.write(`interrupted: reporting the ${done.length} runs of ${specs.length} that started (the last ones cut short)\n`);

  const settings = {
    steps: stepsText, batch: opts.batch, hidden: opts.hidden, 'learning rate (Adam, warmup then cosine to lr/10)': opts.lr,
    'LSTM forget-gate bias': opts.forgetBias, seed: opts.seed, 'echo delay': opts.delay, text: opts.text ?? 'embedded', jobs,
  };
  const command = `seqgrad experiment ${process.argv.slice(3).join(' ')}`.trim();
  const html = await renderReport({ title: 'seqgrad experiment: RNN vs LSTM vs GRU', command, settings, tasks: descriptions, runs: done, totalSeconds });
  const reportPath = join(outDir, 'report.html');
  writeFileSync(reportPath, html);
  writeFileSync(join(outDir, 'results.json'), `${JSON.stringify({ command, settings, tasks: descriptions, totalSeconds, runs: done }, null, 1)}\n`);
  process.stdout.write(`${textTable(resultRows(done))}\n\n${done.length} runs in ${totalSeconds.toFixed(1)} s\nreport: ${reportPath}\n`);
  if (stopped) process.exitCode = 130;
}

/** `seqgrad report`: renders report.html again from an experiment's results.json. */
export async function reportCommand(file: string, opts: { out: string | null }): Promise<void> {
  let data: { command?: string; settings?: Record<string, string | number | boolean>; tasks?: Record<string, string>; totalSeconds?: number; runs?: RunResult[] };
  try {
    data = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CliError(code === 'ENOENT' ? `${file}: no such file` : `${file}: not an experiment's results.json (${code ?? 'not JSON'})`);
  }
  if (!Array.isArray(data.runs)) throw new CliError(`${file}: not an experiment's results.json (no runs)`);
  // JSON has no NaN: a diverged run's numbers come back as null.
  const num = (v: unknown) => (typeof v === 'number' ? v : NaN);
  const runs = data.runs.map((r) => ({ ...r, finalLoss: num(r.finalLoss), finalAccuracy: num(r.finalAccuracy), bitsPerChar: r.bitsPerChar === undefined ? undefined : num(r.bitsPerChar) }));
  const html = await renderReport({
    title: 'seqgrad experiment: RNN vs LSTM vs GRU', command: data.command ?? 'seqgrad experiment', settings: data.settings ?? {}, tasks: data.tasks ?? {},
    runs, totalSeconds: data.totalSeconds ?? 0,
  });
  const outDir = opts.out ?? dirname(file);
  mkdirSync(outDir, { recursive: true });
  const path = join(outDir, 'report.html');
  writeFileSync(path, html);
  process.stdout.write(`report: ${path}\n`);
}
