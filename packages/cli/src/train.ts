/**
 * `seqgrad train`: one model, checkpoints every N steps (atomic, under a write lock), `--resume`
 * bit for bit; Ctrl-C (SIGINT), SIGTERM or SIGHUP writes a checkpoint before exiting with the
 * conventional status (128 + the signal's number).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { basename } from 'node:path';
import type { Command } from 'commander';
import { Generator } from '@seqgrad/autograd';
import { FileError, acquireWriteLock, checkWritableFile } from '@seqgrad/io/node';
import { readUserFile, sha256 } from './userFile.js';
import { type CheckpointData, loadCheckpointTensors, specOf } from './checkpoint.js';
import { readCheckpointHeader, saveCheckpoint } from './checkpointFile.js';
import { type TrainConfig, type Zoneout, checkBuildable, checkConfigAgainstHeader, regularizationOf, regularizationText, validateConfig } from './config.js';
import { CliError } from './errors.js';
import { type CustomCell, cellNameOf, loadCellFactory } from './cellModule.js';
import { type ProgressMode, createProgress } from './progress.js';
import { TASK_DEFAULTS, vocabularyOf } from './tasks.js';
import { FIXED_SIZES, Trainer } from './trainer.js';
import { sampleText } from './sampleText.js';
import { isBuiltinCell } from './cellNames.js';

/**
 * The flags of `seqgrad train`: the run's settings as the checkpoint stores them (TrainConfig),
 * plus the flags whose value is resolved before storing and those that only steer this process.
 */
export interface TrainOptions
  extends Pick<TrainConfig, 'task' | 'cell' | 'hidden' | 'layers' | 'bidirectional' | 'steps' | 'batch' | 'lr' | 'clip' | 'seed' | 'delay'> {
  /** Always set (the flag has a default); stored for LSTM only. */
  forgetBias: number;
  /** Dropout and zoneout rates (0: off); stored only when above 0. */
  inputDropout: number;
  recurrentDropout: number;
  zoneout: Zoneout;
  /** null: the task's default length. */
  seqLen: number | null;
  /** null: the embedded text; stored by base name and SHA-256. */
  text: string | null;
  out: string | null;
  checkpointEvery: number;
  resume: boolean;
  logEvery: number | null;
  progress: ProgressMode;
}

/** The exit status of a process stopped by a signal: 128 + its number. */
export const SIGNAL_EXIT: Readonly<Record<string, number>> = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 };

/** A training text read from a file: its characters, base name and SHA-256. */
export interface TextFile {
  text: string;
  name: string;
  sha256: string;
}

/** Reads a UTF-8 training text (a regular file only), refusing what cannot train a character model. */
export function readText(path: string): TextFile {
  const bytes = readUserFile('--text', path, path, 256 * 1024 ** 2);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new CliError(`--text ${path}: not UTF-8 text; give a UTF-8 text file`);
  }
  if (text.includes('\u0000')) throw new CliError(`--text ${path}: looks binary (holds NUL bytes); give a UTF-8 text file`);
  const n = Array.from(text).length;
  if (n < 100) throw new CliError(`--text ${path}: only ${n} ${n === 1 ? 'character' : 'characters'}; give at least 100`);
  if (vocabularyOf(text).length < 2) throw new CliError(`--text ${path}: holds a single distinct character; a language model needs at least 2`);
  return { text, name: basename(path), sha256: sha256(bytes) };
}

/** The prompt of the sample printed after training: "the " when the vocabulary has it, else the text's first characters. */
export function defaultPrompt(vocab: readonly string[], text: string | undefined): string {
  const known = new Set(vocab);
  if (Array.from('the ').every((c) => known.has(c))) return 'the ';
  return Array.from(text ?? vocab.join('')).slice(0, 4).join('');
}

/** Flags whose value is fixed by a checkpoint (a resumed run keeps them). */
const FIXED: [keyof TrainOptions & keyof TrainConfig, string][] = [
  ['task', '--task'], ['hidden', '--hidden'], ['layers', '--layers'], ['bidirectional', '--bidirectional'],
  ['batch', '--batch'], ['lr', '--lr'], ['clip', '--clip'], ['seed', '--seed'], ['forgetBias', '--forget-bias'], ['seqLen', '--seq-len'], ['delay', '--delay'], ['steps', '--steps'],
];

const FLAG_OF: Record<string, string> = {
  seqLen: '--seq-len', forgetBias: '--forget-bias', inputDropout: '--input-dropout', recurrentDropout: '--recurrent-dropout', zoneout: '--zoneout',
};
const flagOf = (field: string) => FLAG_OF[field] ?? `--${field}`;

/** A resumed run's custom cell and text: the files the user passes again, checked against the checkpoint's hashes. */
async function resumeInputs(config: TrainConfig, opts: TrainOptions, explicit: (key: string) => boolean, out: string): Promise<{ cell?: CustomCell; text?: string }> {
  let cell: CustomCell | undefined;
  if (config.cellSha256 !== undefined) {
    if (!explicit('cell') || isBuiltinCell(opts.cell)) {
      throw new CliError(`${out} was trained with the custom cell '${config.cell}': pass its module again with --cell FILE (a checkpoint never names code to load)`);
    }
    cell = await loadCellFactory(opts.cell, config.cellSha256, config.cell);
  } else if (explicit('cell') && opts.cell !== config.cell) {
    throw new CliError(`--cell ${opts.cell} differs from the checkpoint's ${config.cell}; a resumed run keeps the checkpoint's settings`);
  }
  let text: string | undefined;
  if (config.textSha256 !== undefined) {
    if (opts.text === null) throw new CliError(`${out} was trained on the text '${config.text}': pass it again with --text FILE (a checkpoint never names a file to read)`);
    const file = readText(opts.text);
    if (file.sha256 !== config.textSha256) {
      throw new CliError(`--text ${opts.text}: this file is not the text the checkpoint was trained on ('${config.text}', SHA-256 ${config.textSha256.slice(0, 12)}…; this file's is ${file.sha256.slice(0, 12)}…)`);
    }
    text = file.text;
  } else if (opts.text !== null) {
    throw new CliError(`--text ${opts.text}: the checkpoint was trained on ${config.task === 'charlm' ? 'the embedded text' : `the ${config.task} task, which reads no text`}; a resumed run keeps it`);
  }
  return { cell, text };
}

/** Checks `--out` before any work: a file name in an existing directory, not a directory itself. */
function checkOut(out: string, isDefault: boolean): void {
  if (isDefault) mkdirSync('checkpoints', { recursive: true });
  try {
    checkWritableFile(out);
  } catch (err) {
    if (err instanceof FileError) throw new CliError(`--out ${out || '""'}: ${err.reason}`);
    throw err;
  }
}

export async function trainCommand(opts: TrainOptions, cmd?: Command): Promise<void> {
  const explicit = (key: string) => cmd?.getOptionValueSource(key) === 'cli';
  const out = opts.out ?? `checkpoints/${opts.task}-${isBuiltinCell(opts.cell) ? opts.cell : cellNameOf(opts.cell)}.safetensors`;
  if (opts.resume && !existsSync(out)) throw new CliError(`--resume: no checkpoint at ${out} (pass --out <file>)`);
  checkOut(out, opts.out === null);
  let config: TrainConfig;
  let text: string | undefined;
  let trainer: Trainer;
  let release: () => void;
  try {
    release = acquireWriteLock(out);
  } catch (err) {
    if (err instanceof FileError) throw new CliError(`--out ${out}: ${err.reason}`);
    throw err;
  }
  process.on('exit', release);
  try {
    if (opts.resume) {
      const ck = (() => {
        try {
          return readCheckpointHeader(out);
        } catch (err) {
          if (err instanceof CliError && / no such file or directory$/.test(err.message)) throw new CliError(`--resume: no checkpoint at ${out} (pass --out <file>)`);
          throw err;
        }
      })();
      config = validateConfig(ck.config, out);
      checkConfigAgainstHeader(config, ck.entries, out);
      for (const [key, flag] of FIXED) {
        if (explicit(key) && opts[key] !== config[key]) {
          throw new CliError(`${flag} ${String(opts[key])} differs from the checkpoint's ${String(config[key])}; a resumed run keeps the checkpoint's settings`);
        }
      }
      // Dropout and zoneout: the checkpoint stores the rates above 0.
      const stored = regularizationOf(config, flagOf);
      for (const key of ['inputDropout', 'recurrentDropout', 'zoneout'] as const) {
        const given = JSON.stringify(regularizationOf({ ...config, [key]: opts[key] }, flagOf)[key] ?? 0);
        const kept = JSON.stringify(stored[key] ?? 0);
        if (explicit(key) && given !== kept) {
          throw new CliError(`${flagOf(key)} ${given} differs from the checkpoint's ${kept}; a resumed run keeps the checkpoint's settings`);
        }
      }
      const inputs = await resumeInputs(config, opts, explicit, out);
      text = inputs.text;
      trainer = Trainer.create(config, text, inputs.cell?.factory);
      trainer.restore(loadCheckpointTensors(ck, specOf(trainer.model.namedParameters())), out);
    } else {
      if (opts.text !== null && opts.task !== 'charlm') throw new CliError(`--text is for --task charlm, not ${opts.task}`);
      const file = opts.text === null ? undefined : readText(opts.text);
      text = file?.text;
      const custom = isBuiltinCell(opts.cell) ? undefined : await loadCellFactory(opts.cell);
      config = {
        task: opts.task, cell: custom ? custom.name : opts.cell, hidden: opts.hidden, layers: opts.layers, bidirectional: opts.bidirectional,
        steps: opts.steps, batch: opts.batch, lr: opts.lr, clip: opts.clip, seed: opts.seed,
        seqLen: opts.seqLen ?? TASK_DEFAULTS[opts.task].seqLen, delay: opts.delay, ...FIXED_SIZES, text: file?.name ?? '',
      };
      if (custom) config.cellSha256 = custom.sha256;
      if (file) config.textSha256 = file.sha256;
      if (opts.cell === 'lstm') config.forgetBias = opts.forgetBias;
      Object.assign(config, regularizationOf({ ...config, inputDropout: opts.inputDropout, recurrentDropout: opts.recurrentDropout, zoneout: opts.zoneout }, flagOf));
      if (opts.task === 'charlm') config.vocab = vocabularyOf(text ?? (await import('./text.js')).EMBEDDED_TEXT);
      checkBuildable(config, flagOf);
      trainer = Trainer.create(config, text, custom?.factory);
    }
    await trainLoop(trainer, config, out, opts, text);
  } finally {
    release();
    process.off('exit', release);
  }
}

async function trainLoop(trainer: Trainer, config: TrainConfig, out: string, opts: TrainOptions, text: string | undefined): Promise<void> {
  const steps = config.steps;
  const label = `${config.task} ${config.cell}`;
  const progress = createProgress(opts.progress, (total) => opts.logEvery ?? Math.max(1, Math.ceil(total / 20)));
  process.stderr.write(
    `${opts.resume ? `resuming at step ${trainer.step} of` : 'training for'} ${steps} steps: ${trainer.task.describe()}; ` +
      `${config.cell} hidden ${config.hidden}×${config.layers}${config.bidirectional ? ' bidirectional' : ''}${regularizationText(config) ? `, ${regularizationText(config)}` : ''}, ${trainer.model.numParameters()} parameters\n`,
  );
  if (trainer.step >= steps) {
    process.stdout.write(`already at step ${trainer.step} of ${steps}: nothing to do (${out})\n`);
    return;
  }

  let stop: string | null = null;
  const handlers = Object.keys(SIGNAL_EXIT).map((sig) => [sig, () => (stop ??= sig)] as const);
  for (const [sig, h] of handlers) process.on(sig, h);
  const bar = progress.start(label, steps, trainer.step);
  const t0 = performance.now();
  const startStep = trainer.step;
  let avgLoss = 0;
  let avgAcc = 0;
  const save = (data: CheckpointData) => saveCheckpoint(out, data);
  try {
    while (trainer.step < steps) {
      const s = trainer.trainStep();
      if (!Number.isFinite(s.loss)) {
        bar.stop();
        progress.close();
        throw new CliError(`the loss became ${s.loss} at step ${trainer.step}; the last checkpoint (${out}) is from before that. Try --clip 1 or a lower --lr`);
      }
      const k = Math.min(trainer.step - startStep, 20);
      avgLoss += (s.loss - avgLoss) / k;
      avgAcc += (s.accuracy - avgAcc) / k;
      bar.update(trainer.step, avgLoss, avgAcc);
      if (trainer.step % opts.checkpointEvery === 0 || trainer.step === steps) save(trainer.checkpoint());
      // Let signal handlers run between steps.
      await new Promise((r) => setImmediate(r));
      if (stop) {
        save(trainer.checkpoint());
        bar.stop();
        progress.close();
        process.stderr.write(`${stop}: stopped at step ${trainer.step}; checkpoint written to ${out}. Continue with --resume --out ${out}\n`);
        process.exitCode = SIGNAL_EXIT[stop]!;
        return;
      }
    }
  } finally {
    for (const [sig, h] of handlers) process.off(sig, h);
  }
  bar.stop();
  progress.close();
  const secs = (performance.now() - t0) / 1000;
  const ev = trainer.evaluate(config.seed + 7_000_001);
  const lines = [
    `step ${trainer.step}: held-out loss ${ev.loss.toFixed(4)}, accuracy ${(100 * ev.accuracy).toFixed(1)}%` +
      (config.task === 'charlm' ? `, ${(ev.loss / Math.LN2).toFixed(3)} bits/char` : ''),
    `${((trainer.step - startStep) / secs).toFixed(1)} steps/s, ${secs.toFixed(1)} s`,
    `checkpoint: ${out}`,
  ];
  if (config.task === 'charlm') {
    const vocab = trainer.task.vocab!;
    lines.push(`sample: ${JSON.stringify(sampleText(trainer.model, vocab, { prompt: defaultPrompt(vocab, text), length: 80, temperature: 0.5, generator: new Generator(config.seed) }))}`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}
