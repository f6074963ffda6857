/**
 * `seqgrad train`: one model, checkpoints every N steps (atomic), `--resume` bit for bit,
 * Ctrl-C (SIGINT) or SIGTERM writes a checkpoint before exiting.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { basename, dirname, extname, resolve } from 'node:path';
import type { Command } from 'commander';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import { CliError } from './errors.js';
import { type ProgressMode, createProgress } from './progress.js';
import { TASK_DEFAULTS } from './tasks.js';
import { FIXED_SIZES, type TrainConfig, Trainer } from './trainer.js';
import { generate } from './sample.js';
import { isBuiltinCell, isCellPath } from './cellNames.js';

/**
 * The flags of `seqgrad train`: the run's settings as the checkpoint stores them (TrainConfig),
 * plus the flags whose value is resolved before storing and those that only steer this process.
 */
export interface TrainOptions
  extends Pick<TrainConfig, 'task' | 'cell' | 'hidden' | 'layers' | 'bidirectional' | 'steps' | 'batch' | 'lr' | 'clip' | 'seed' | 'delay'> {
  /** Always set (the flag has a default); stored for LSTM only. */
  forgetBias: number;
  /** null: the task's default length. */
  seqLen: number | null;
  /** null: the embedded text; stored as an absolute path. */
  text: string | null;
  out: string | null;
  checkpointEvery: number;
  resume: boolean;
  logEvery: number | null;
  progress: ProgressMode;
}

/** Reads a UTF-8 training text, refusing what cannot train a character model. */
export function readText(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CliError(code === 'ENOENT' ? `--text ${path}: no such file` : `--text ${path}: cannot read (${code})`);
  }
  if (text.includes('\u0000')) throw new CliError(`--text ${path}: looks binary (holds NUL bytes); give a UTF-8 text file`);
  if (Array.from(text).length < 100) throw new CliError(`--text ${path}: only ${Array.from(text).length} characters; give at least 100`);
  return text;
}

function cellTag(cell: string): string {
  return isCellPath(cell) ? basename(cell, extname(cell)) : cell;
}

/** Flags whose value is fixed by a checkpoint (a resumed run keeps them). */
const FIXED: [keyof TrainOptions & keyof TrainConfig, string][] = [
  ['task', '--task'], ['cell', '--cell'], ['hidden', '--hidden'], ['layers', '--layers'], ['bidirectional', '--bidirectional'],
  ['batch', '--batch'], ['lr', '--lr'], ['clip', '--clip'], ['seed', '--seed'], ['forgetBias', '--forget-bias'], ['seqLen', '--seq-len'], ['delay', '--delay'], ['steps', '--steps'],
];

export async function trainCommand(opts: TrainOptions, cmd?: Command): Promise<void> {
  const explicit = (key: string) => cmd?.getOptionValueSource(key) === 'cli';
  const out = opts.out ?? `checkpoints/${opts.task}-${cellTag(opts.cell)}.safetensors`;
  let config: TrainConfig;
  let text: string | undefined;
  let trainer: Trainer;

  if (opts.resume) {
    if (!existsSync(out)) throw new CliError(`--resume: no checkpoint at ${out} (pass --out <file>)`);
    const ckpt = loadCheckpoint(out);
    config = ckpt.config as unknown as TrainConfig;
    for (const [key, flag] of FIXED) {
      const given = key === 'cell' && !isBuiltinCell(opts.cell) ? resolve(opts.cell) : opts[key];
      if (explicit(key) && given !== config[key]) {
        throw new CliError(`${flag} ${String(opts[key])} differs from the checkpoint's ${String(config[key])}; a resumed run keeps the checkpoint's settings`);
      }
    }
    if (config.task === 'charlm' && config.text) text = readText(config.text);
    trainer = await Trainer.create(config, text);
    trainer.restore(ckpt, out);
  } else {
    if (opts.text !== null && opts.task !== 'charlm') throw new CliError(`--text is for --task charlm, not ${opts.task}`);
    if (opts.text !== null) text = readText(opts.text);
    config = {
      task: opts.task, cell: isBuiltinCell(opts.cell) ? opts.cell : resolve(opts.cell), hidden: opts.hidden, layers: opts.layers, bidirectional: opts.bidirectional,
      steps: opts.steps, batch: opts.batch, lr: opts.lr, clip: opts.clip, seed: opts.seed,
      seqLen: opts.seqLen ?? TASK_DEFAULTS[opts.task].seqLen, delay: opts.delay, ...FIXED_SIZES, text: opts.text === null ? '' : resolve(opts.text),
    };
    if (opts.cell === 'lstm') config.forgetBias = opts.forgetBias;
    trainer = await Trainer.create(config, text);
  }
  mkdirSync(dirname(out) || '.', { recursive: true });

  const steps = config.steps;
  const label = `${config.task} ${cellTag(config.cell)}`;
  const progress = createProgress(opts.progress, (total) => opts.logEvery ?? Math.max(1, Math.ceil(total / 20)));
  process.stderr.write(
    `${opts.resume ? `resuming at step ${trainer.step} of` : 'training for'} ${steps} steps: ${trainer.task.describe()}; ` +
      `${config.cell} hidden ${config.hidden}×${config.layers}${config.bidirectional ? ' bidirectional' : ''}, ${trainer.model.numParameters()} parameters\n`,
  );
  if (trainer.step >= steps) {
    process.stdout.write(`already at step ${trainer.step} of ${steps}: nothing to do (${out})\n`);
    return;
  }

  let stop: string | null = null;
  const onSignal = (sig: string) => () => {
    stop = sig;
  };
  const sigint = onSignal('SIGINT');
  const sigterm = onSignal('SIGTERM');
  process.on('SIGINT', sigint);
  process.on('SIGTERM', sigterm);
  const bar = progress.start(label, steps, trainer.step);
  const t0 = performance.now();
  const startStep = trainer.step;
  let avgLoss = 0;
  let avgAcc = 0;
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
      if (trainer.step % opts.checkpointEvery === 0 || trainer.step === steps) saveCheckpoint(out, trainer.checkpoint());
      // Let signal handlers run between steps.
      await new Promise((r) => setImmediate(r));
      if (stop) {
        saveCheckpoint(out, trainer.checkpoint());
        bar.stop();
        progress.close();
        process.stderr.write(`${stop}: stopped at step ${trainer.step}; checkpoint written to ${out}. Continue with --resume --out ${out}\n`);
        process.exitCode = 130;
        return;
      }
    }
  } finally {
    process.off('SIGINT', sigint);
    process.off('SIGTERM', sigterm);
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
  if (config.task === 'charlm') lines.push(`sample: ${JSON.stringify(generate(trainer.model, trainer.task.vocab!, 'the ', 80, 0.5, config.seed))}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}
