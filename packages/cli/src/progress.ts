/**
 * Training progress: cli-progress bars (step, loss, steps/s, ETA) when stderr is a terminal,
 * plain lines otherwise (logs, CI, pipes), or nothing.
 */
import cliProgress from 'cli-progress';

export type ProgressMode = 'auto' | 'bars' | 'lines' | 'none';

export interface ProgressHandle {
  /** Called after every step; `loss` and `accuracy` are running averages. */
  update(step: number, loss: number, accuracy: number): void;
  /** A message under the bars (or a plain line). */
  log(message: string): void;
  stop(): void;
}

export interface Progress {
  start(label: string, total: number, startStep?: number): ProgressHandle;
  /** A message that does not belong to one run. */
  log(message: string): void;
  close(): void;
}

function eta(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  if (seconds < 60) return `${Math.round(seconds)}s`;
  const m = Math.floor(seconds / 60);
  return `${m}m${String(Math.round(seconds - 60 * m)).padStart(2, '0')}s`;
}

function fmtLoss(v: number): string {
  return Number.isFinite(v) ? (Math.abs(v) < 1e-3 ? v.toExponential(2) : v.toFixed(4)) : String(v);
}

/** Plain lines: one every `every` steps and at the end. */
class LineProgress implements Progress {
  constructor(private readonly every: (total: number) => number, private readonly out = process.stderr) {}
  start(label: string, total: number, startStep = 0): ProgressHandle {
    const t0 = performance.now();
    const every = Math.max(1, this.every(total));
    return {
      update: (step, loss, accuracy) => {
        if (step % every !== 0 && step !== total) return;
        const secs = (performance.now() - t0) / 1000;
        const rate = (step - startStep) / Math.max(secs, 1e-9);
        this.out.write(
          `[${label.trimEnd()}] step ${step}/${total}  loss ${fmtLoss(loss)}  acc ${(100 * accuracy).toFixed(1)}%  ${rate.toFixed(1)} steps/s  ETA ${eta((total - step) / rate)}\n`,
        );
      },
      log: (message) => this.out.write(`[${label}] ${message}\n`),
      stop: () => {},
    };
  }
  log(message: string): void {
    this.out.write(`${message}\n`);
  }
  close(): void {}
}

/** Bars on a terminal, one per run, kept on screen when done. */
class BarProgress implements Progress {
  private readonly multi = new cliProgress.MultiBar(
    {
      format: '{label} |{bar}| {value}/{total} | loss {loss} | acc {acc} | {speed} steps/s | ETA {eta_formatted}',
      barsize: 24,
      hideCursor: true,
      clearOnComplete: false,
      stopOnComplete: false,
      etaBuffer: 50,
      fps: 8,
      stream: process.stderr,
    },
    cliProgress.Presets.shades_classic,
  );
  private width = 0;

  start(label: string, total: number, startStep = 0): ProgressHandle {
    this.width = Math.max(this.width, label.length);
    const t0 = performance.now();
    const bar = this.multi.create(total, startStep, { label: label.padEnd(this.width), loss: '-', acc: '-', speed: '-' });
    return {
      update: (step, loss, accuracy) => {
        const secs = (performance.now() - t0) / 1000;
        bar.update(step, { loss: fmtLoss(loss), acc: `${(100 * accuracy).toFixed(1)}%`, speed: ((step - startStep) / Math.max(secs, 1e-9)).toFixed(1) });
      },
      log: (message) => this.multi.log(`[${label}] ${message}\n`),
      stop: () => bar.stop(),
    };
  }
  log(message: string): void {
    this.multi.log(`${message}\n`);
  }
  close(): void {
    this.multi.stop();
  }
}

class NoProgress implements Progress {
  start(): ProgressHandle {
    return { update() {}, log() {}, stop() {} };
  }
  log(): void {}
  close(): void {}
}

/** The progress display for `mode`; 'auto' means bars on a terminal, lines otherwise. */
export function createProgress(mode: ProgressMode, every: (total: number) => number = (t) => Math.ceil(t / 20)): Progress {
  const resolved = mode === 'auto' ? (process.stderr.isTTY ? 'bars' : 'lines') : mode;
  if (resolved === 'bars') return new BarProgress();
  if (resolved === 'lines') return new LineProgress(every);
  return new NoProgress();
}
