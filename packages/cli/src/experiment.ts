/**
 * `seqgrad experiment`: a tanh RNN, an LSTM and a GRU on the adding problem, delayed echo and a
 * character LM, with and without gradient clipping, all seeded; a results table on stdout and
 * reports/<run>/report.html (plus results.json with every number behind the plots).
 */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { FileError, describeSystemError, writeFileAtomic } from '@seqgrad/io/node';
import { readUserFile } from './userFile.js';
import { isBuiltinCell } from './cellNames.js';
import { type Zoneout, checkBuildable, regularizationOf, regularizationText } from './config.js';
import { type CustomCell, loadCellFactory } from './cellModule.js';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { CliError } from './errors.js';
import { type ProgressHandle, type ProgressMode, createProgress } from './progress.js';
import type { Command } from 'commander';
import { STUDIES, STUDY_NAMES, type Study, isStudyName, studyCellPaths } from './study.js';
import { type RunResult, clipLabel, markdownTable, renderReport, resultRows, textTable } from './report.js';
import { type RunEvent, type RunSpec, executeRun, runLabel } from './run.js';
import { TASK_DEFAULTS, type TaskName, makeTask } from './tasks.js';
import { SIGNAL_EXIT, readText } from './train.js';
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
  /** Dropout and zoneout of every run (0: off; absent: off). */
  inputDropout?: number;
  recurrentDropout?: number;
  zoneout?: Zoneout;
  flowEvery: number | null;
  jobs: number | null;
  out: string | null;
  progress: ProgressMode;
  /** A named study (`lstm-variants`): its cells, and its settings for the flags not given. */
  study?: string | null;
  /** With a study: the variants to run (default all). */
  variants?: string[] | null;
}

const DEFAULT_TITLE = 'seqgrad experiment: RNN vs LSTM vs GRU';

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

/**
 * Applies a study's preset to the options: its cells (the flag --cells would contradict it), and
 * its tasks, clipping, hidden size, steps and sequence lengths wherever the flag was not given.
 */
function applyStudy(opts: ExperimentOptions, cmd?: Command): { opts: ExperimentOptions; steps: (t: TaskName) => number; seqLen: (t: TaskName) => number; title: string } {
  const explicit = (key: string) => cmd?.getOptionValueSource(key) === 'cli';
  if (opts.study === null || opts.study === undefined) {
    if (opts.variants) throw new CliError(`--variants picks cells of a study: give --study too (${STUDY_NAMES.join(', ')})`);
    return { opts, steps: (t) => opts.steps ?? TASK_DEFAULTS[t].steps, seqLen: (t) => opts.seqLen ?? TASK_DEFAULTS[t].seqLen, title: DEFAULT_TITLE };
  }
  const name = opts.study;
  if (!isStudyName(name)) throw new CliError(`--study: unknown study '${name}' (choose from ${STUDY_NAMES.join(', ')})`);
  if (explicit('cells')) throw new CliError(`--cells: the study ${name} sets the cells; choose some of them with --variants (${STUDIES[name].variants.join(',')})`);
  const study: Study = STUDIES[name];
  const merged: ExperimentOptions = {
    ...opts,
    cells: studyCellPaths(name, opts.variants ?? null),
    tasks: explicit('tasks') ? opts.tasks : [...study.tasks],
    clip: explicit('clip') ? opts.clip : [...study.clip],
    hidden: explicit('hidden') ? opts.hidden : study.hidden,
  };
  return { opts: merged, steps: (t) => opts.steps ?? study.steps[t], seqLen: (t) => opts.seqLen ?? study.seqLen[t], title: study.title };
}

export async function experimentCommand(options: ExperimentOptions, cmd?: Command): Promise<void> {
  const { opts, steps: stepsOf, seqLen: seqLenOf, title } = applyStudy(options, cmd);
  const textFile = opts.text === null ? undefined : readText(opts.text);
  const text = textFile?.text;
  const tasks = [...new Set(opts.tasks)];
  const cellArgs = [...new Set(opts.cells)];
  // Custom cells are loaded once here (a bad module fails before any run) and named by their file's base name.
  const customs = new Map<string, CustomCell>();
  for (const c of cellArgs) if (!isBuiltinCell(c)) customs.set(c, await loadCellFactory(c));
  const nameOf = (c: string) => customs.get(c)?.name ?? c;
  const names = cellArgs.map(nameOf);
  const clash = names.find((n, i) => names.indexOf(n) !== i);
  if (clash !== undefined) throw new CliError(`--cells: two cells are named '${clash}'; rename one module file so the report can tell them apart`);
  const cells = cellArgs;
  const clips = [...new Set(opts.clip)];
  const specs: RunSpec[] = [];
  const descriptions: Record<string, string> = {};
  for (const task of tasks) {
    const seqLen = seqLenOf(task);
    const steps = stepsOf(task);
    descriptions[task] = makeTask(task, { seqLen, delay: opts.delay, text }).describe();
    for (const cell of cells) {
      for (const clip of clips) {
        const custom = customs.get(cell);
        const config: TrainConfig = {
          task, cell: nameOf(cell), hidden: opts.hidden, layers: 1, bidirectional: false, steps, batch: opts.batch, lr: opts.lr,
          clip, seed: opts.seed, seqLen, delay: opts.delay, ...FIXED_SIZES, text: textFile?.name ?? '',
        };
        if (cell === 'lstm') config.forgetBias = opts.forgetBias;
        if (custom) config.cellSha256 = custom.sha256;
        Object.assign(config, regularizationOf({ ...config, inputDropout: opts.inputDropout, recurrentDropout: opts.recurrentDropout, zoneout: opts.zoneout }, flagOf));
        if (textFile) config.textSha256 = textFile.sha256;
        checkBuildable(config, flagOf);
        specs.push({ config, cellPath: custom?.path, text, logEvery: Math.max(1, Math.floor(steps / 60)), flowEvery: opts.flowEvery ?? Math.max(1, Math.ceil(steps / 15)) });
      }
    }
  }
  const jobs = Math.max(1, Math.min(opts.jobs ?? Math.min(2, availableParallelism()), specs.length));
  const outDir = opts.out ?? join('reports', timestamp());
  makeReportDir(outDir, '--out');

  const stepsText = tasks.map((t) => `${t} ${stepsOf(t)}`).join(', ');
  process.stderr.write(`experiment: ${specs.length} runs (${tasks.join(', ')} × ${names.join(', ')} × ${clips.map((c) => (c === null ? 'no clipping' : `clip ${c}`)).join(', ')}), steps ${stepsText}, ${jobs} in parallel\n`);
  const progress = createProgress(opts.progress, (total) => Math.max(1, Math.ceil(total / 5)));
  let stopped = false;
  let pool: RunWorker[] = [];
  // The first Ctrl-C ends the running runs early and reports what was trained; a second quits.
  let stopSignal = 'SIGINT';
  const onSignal = (sig: string) => () => {
    if (stopped) process.exit(SIGNAL_EXIT[sig]);
    stopped = true;
    stopSignal = sig;
    progress.log(`${sig === 'SIGINT' ? 'Ctrl-C' : sig}: stopping the running runs and writing the report of what was trained (Ctrl-C again to quit at once)`);
    for (const w of pool) w.stop();
  };
  const handlers = Object.keys(SIGNAL_EXIT).map((sig) => [sig, onSignal(sig)] as const);
  for (const [sig, h] of handlers) process.on(sig, h);
  const t0 = performance.now();
  const results: RunResult[] = new Array(specs.length);
  let next = 0;
  const labels = specs.map((sp) => `${sp.config.task.padEnd(Math.max(...tasks.map((t) => t.length)))} ${runLabel(sp.config)}`);
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
    for (const [sig, h] of handlers) process.off(sig, h);
    progress.close();
    await Promise.all(pool.map((p) => p.close()));
  }
  const totalSeconds = (performance.now() - t0) / 1000;
  const done = results.filter(Boolean);
  if (stopped) process.stderr.write(`interrupted: reporting the ${done.length} runs of ${specs.length} that started (the last ones cut short)\n`);

  const settings = {
    ...(opts.study ? { study: opts.study } : {}),
    steps: stepsText, 'sequence length': tasks.map((t) => `${t} ${seqLenOf(t)}`).join(', '), clipping: clips.map(clipLabel).join(', '), batch: opts.batch, hidden: opts.hidden, 'learning rate (Adam, warmup then cosine to lr/10)': opts.lr,
    ...(cells.includes('lstm') ? { 'LSTM forget-gate bias': opts.forgetBias } : {}),
    ...(specs[0] && regularizationText(specs[0].config) ? { 'dropout and zoneout (training only)': regularizationText(specs[0].config) } : {}), seed: opts.seed, ...(tasks.includes('echo') ? { 'echo delay': opts.delay } : {}), ...(tasks.includes('charlm') ? { text: opts.text ?? 'embedded' } : {}), jobs,
  };
  const command = `seqgrad experiment ${process.argv.slice(3).join(' ')}`.trim();
  const html = await renderReport({ title, command, settings, tasks: descriptions, runs: done, totalSeconds });
  const reportPath = join(outDir, 'report.html');
  writeReportFile(reportPath, html);
  writeReportFile(join(outDir, 'results.json'), `${JSON.stringify({ title, command, settings, tasks: descriptions, totalSeconds, runs: done }, null, 1)}\n`);
  process.stdout.write(`${textTable(resultRows(done))}\n\n${done.length} runs in ${totalSeconds.toFixed(1)} s\nreport: ${reportPath}\n`);
  if (stopped) process.exitCode = SIGNAL_EXIT[stopSignal]!;
}

/** The flag that sets a config field, for error messages. */
function flagOf(field: string): string {
  const named: Record<string, string> = { seqLen: '--seq-len', inputDropout: '--input-dropout', recurrentDropout: '--recurrent-dropout' };
  return named[field] ?? `--${field}`;
}

/** Creates the report directory (and its parents), refusing a path that is a file, in words. */
function makeReportDir(dir: string, flag: string): void {
  if (dir.trim() === '') throw new CliError(`${flag}: the path is empty`);
  try {
    if (existsSync(dir) && !statSync(dir).isDirectory()) throw new CliError(`${flag} ${dir}: is a file, not a directory`);
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(`${flag} ${dir}: cannot create the directory: ${describeSystemError(err).reason}`);
  }
}

/** Writes a report file atomically; a failure is one line naming the path. */
function writeReportFile(path: string, content: string): void {
  try {
    writeFileAtomic(path, new TextEncoder().encode(content));
  } catch (err) {
    if (err instanceof FileError) throw new CliError(`cannot write ${err.path}: ${err.reason}`);
    throw err;
  }
}

/** `seqgrad report`: renders report.html again from an experiment's results.json. */
export async function reportCommand(file: string, opts: { out: string | null; markdown?: boolean }): Promise<void> {
  let data: { title?: string; command?: string; settings?: Record<string, string | number | boolean>; tasks?: Record<string, string>; totalSeconds?: number; runs?: RunResult[] };
  const bytes = readUserFile('', file, file, 512 * 1024 ** 2);
  try {
    data = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new CliError(`${file}: not an experiment's results.json (not JSON)`);
  }
  if (!data || typeof data !== 'object') throw new CliError(`${file}: not an experiment's results.json (not an object)`);
  if (!Array.isArray(data.runs)) throw new CliError(`${file}: not an experiment's results.json (no runs)`);
  // JSON has no NaN: a diverged run's numbers come back as null.
  const num = (v: unknown) => (typeof v === 'number' ? v : NaN);
  const runs = data.runs.map((r) => ({ ...r, finalLoss: num(r.finalLoss), finalAccuracy: num(r.finalAccuracy), bitsPerChar: r.bitsPerChar === undefined ? undefined : num(r.bitsPerChar) }));
  if (opts.markdown) {
    process.stdout.write(`${markdownTable(resultRows(runs))}\n`);
    return;
  }
  const html = await renderReport({
    title: typeof data.title === 'string' ? data.title : DEFAULT_TITLE, command: data.command ?? 'seqgrad experiment', settings: data.settings ?? {}, tasks: data.tasks ?? {},
    runs, totalSeconds: data.totalSeconds ?? 0,
  });
  const outDir = opts.out ?? dirname(file);
  makeReportDir(outDir, '--out');
  const path = join(outDir, 'report.html');
  writeReportFile(path, html);
  process.stdout.write(`report: ${path}\n`);
}
