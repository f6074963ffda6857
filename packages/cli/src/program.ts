/**
 * The `seqgrad` command line's program. Parsing is commander's; each subcommand's work lives in its own
 * module, loaded only when that subcommand runs (so `--help` is instant).
 *
 * Every mistake of the user's (unknown flag, bad value, missing or corrupt file, mismatched
 * checkpoint) ends with one line on stderr and exit status 1; SEQGRAD_DEBUG=1 adds the stack.
 */
import { createRequire } from 'node:module';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { CliError, oneLine } from './errors.js';
import { BUILTIN_CELLS, isBuiltinCell, isCellPath } from './cellNames.js';
import { STUDY_NAMES, isStudyName } from './study.js';
import { TASK_NAMES } from './tasks.js';
import { type Zoneout, parseZoneout } from './config.js';

/** The version `seqgrad --version` prints: the package's own, read from its package.json (src/ and dist/ both sit beside it). */
const VERSION = (createRequire(import.meta.url)('../package.json') as { version: string }).version;

function int(min: number) {
  return (v: string): number => {
    if (!/^[+-]?\d+$/.test(v.trim())) throw new InvalidArgumentError(`expected an integer, got '${v}'.`);
    const n = Number(v);
    if (n < min) throw new InvalidArgumentError(`expected an integer ≥ ${min}, got ${n}.`);
    return n;
  };
}

function positive(v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`expected a positive number, got '${v}'.`);
  return n;
}

function finite(v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`expected a number, got '${v}'.`);
  return n;
}

function nonNegative(v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`expected a number ≥ 0, got '${v}'.`);
  return n;
}

/** A dropout or zoneout rate in [0, 1). */
function rate(v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !(n >= 0 && n < 1)) throw new InvalidArgumentError(`expected a rate in [0, 1), got '${v}'.`);
  return n;
}

/** `--zoneout`: one rate, or rates per state entry (`h=0.05,c=0.5`). */
function zoneout(v: string): Zoneout {
  try {
    return parseZoneout(v);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message.replace(/^--zoneout [^:]*: /, '') + '.');
  }
}

/** A max gradient norm, or 'none' (null) for no clipping. */
function clipValue(v: string): number | null {
  if (v === 'none' || v === 'off') return null;
  return positive(v);
}

/** The items of a comma-separated list; an empty item (`rnn,,lstm`, a trailing comma) is an error. */
function splitList(v: string, what: string): string[] {
  const items = v.split(',').map((s) => s.trim());
  if (v.trim() === '') throw new InvalidArgumentError(`expected a comma-separated list of ${what}.`);
  const empty = items.indexOf('');
  if (empty >= 0) throw new InvalidArgumentError(`item ${empty + 1} of '${v}' is empty; expected a comma-separated list of ${what}.`);
  return items;
}

function list<T extends string>(allowed: readonly T[], what: string, allowPaths = false) {
  return (v: string): string[] => {
    const items = splitList(v, what);
    for (const it of items) {
      const isPath = allowPaths && isCellPath(it);
      if (!allowed.includes(it as T) && !isPath) {
        throw new InvalidArgumentError(`unknown ${what.replace(/s$/, '')} '${it}' (choose from ${allowed.join(', ')}${allowPaths ? ', or a path to a cell module' : ''}).`);
      }
    }
    return items;
  };
}

function clipList(v: string): (number | null)[] {
  return splitList(v, "max gradient norms such as 'none,1'").map(clipValue);
}

function cellName(v: string): string {
  if (isBuiltinCell(v) || isCellPath(v)) return v;
  throw new InvalidArgumentError(`unknown cell '${v}' (choose from rnn, lstm, gru, or a path to a module exporting a cell).`);
}

function studyName(v: string): string {
  if (isStudyName(v)) return v;
  throw new InvalidArgumentError(`unknown study '${v}' (choose from ${STUDY_NAMES.join(', ')}).`);
}

function taskName(v: string): string {
  if ((TASK_NAMES as readonly string[]).includes(v)) return v;
  throw new InvalidArgumentError(`unknown task '${v}' (choose from ${TASK_NAMES.join(', ')}).`);
}

const progressOption = () =>
  new Option('--progress <mode>', 'progress display: bars on a terminal, plain lines otherwise').choices(['auto', 'bars', 'lines', 'none']).default('auto');

export function buildProgram(): Command {
  const program = new Command('seqgrad')
    .description('Train and compare RNN, LSTM and GRU on classic sequence tasks; check the gradients of recurrent cells.')
    .version(VERSION, '-V, --version', 'print the version and exit')
    .helpOption('-h, --help', 'show help (every flag with its default)')
    .showSuggestionAfterError(true)
    .configureOutput({ outputError: (str, write) => write(`seqgrad: ${str.replace(/^error: /, '').trimEnd()}\n`) })
    .exitOverride();

  program
    .command('experiment')
    .description('train a tanh RNN, an LSTM and a GRU on the adding problem, delayed echo and a character LM, with and without clipping; print a results table and write reports/<run>/report.html')
    .addOption(new Option('--tasks <list>', 'tasks to run, comma-separated').argParser(list(TASK_NAMES, 'tasks')).default(['adding', 'echo', 'charlm'], 'adding,echo,charlm'))
    .addOption(new Option('--cells <list>', 'cells to compare, comma-separated (rnn, lstm, gru or a path)').argParser(list(BUILTIN_CELLS, 'cells', true)).default(['rnn', 'lstm', 'gru'], 'rnn,lstm,gru'))
    .addOption(new Option('--clip <list>', "max gradient norms to compare, comma-separated, 'none' for no clipping").argParser(clipList).default([null, 1], 'none,1'))
    .addOption(new Option('--steps <n>', 'training steps of every run').argParser(int(1)).default(null, 'adding 800, echo 400, charlm 300'))
    .addOption(new Option('--batch <n>', 'batch size').argParser(int(1)).default(32))
    .addOption(new Option('--hidden <n>', 'hidden size').argParser(int(1)).default(32))
    .addOption(new Option('--lr <x>', 'Adam learning rate (warmup, then cosine to lr/10)').argParser(positive).default(0.02))
    .addOption(new Option('--forget-bias <x>', 'LSTM: initial forget-gate bias').argParser(finite).default(1))
    .addOption(new Option('--input-dropout <p>', "every run: dropout on the recurrent layer's input, one mask per sequence, in [0, 1)").argParser(rate).default(0))
    .addOption(new Option('--recurrent-dropout <p>', 'every run: dropout on the recurrent h, one mask per sequence (Keras recurrent_dropout), in [0, 1)').argParser(rate).default(0))
    .addOption(new Option('--zoneout <p>', 'every run: zoneout rate, one for every state entry or per entry as h=P,c=P').argParser(zoneout).default(0))
    .addOption(new Option('--seq-len <n>', 'sequence length for every task').argParser(int(2)).default(null, 'adding 30, echo 20, charlm 32'))
    .addOption(new Option('--delay <k>', 'echo: how many steps back to repeat').argParser(int(1)).default(5))
    .addOption(new Option('--text <file>', 'charlm: training text (UTF-8)').default(null, 'the embedded text'))
    .addOption(new Option('--seed <n>', 'random seed (initialisation and data)').argParser(int(0)).default(0))
    .addOption(new Option('--flow-every <n>', 'measure ‖dL/dh_t‖ every n steps').argParser(int(1)).default(null, 'steps/15'))
    .addOption(new Option('--jobs <n>', 'runs in parallel (worker threads)').argParser(int(1)).default(null, 'number of CPUs, at most 2'))
    .addOption(new Option('--out <dir>', 'report directory').default(null, 'reports/<date-time>'))
    .addOption(new Option('--study <name>', `a named study: its preset cells and settings (flags given override them): ${STUDY_NAMES.join(', ')}`).argParser(studyName).default(null, 'none'))
    .addOption(new Option('--variants <list>', "with --study: the study's cells to run, comma-separated").argParser((v) => splitList(v, 'variants')).default(null, 'all of them'))
    .addOption(progressOption())
    .action(async (opts, cmd) => (await import('./experiment.js')).experimentCommand(opts, cmd));

  program
    .command('train')
    .description('train one model, writing a safetensors checkpoint (model, optimizer, schedule, step, RNG) every N steps')
    .addOption(new Option('--task <name>', 'adding, echo or charlm').argParser(taskName).default('charlm'))
    .addOption(new Option('--cell <name|path>', 'rnn, lstm, gru, or a path to a module exporting a cell').argParser(cellName).default('lstm'))
    .addOption(new Option('--hidden <n>', 'hidden size').argParser(int(1)).default(64))
    .addOption(new Option('--layers <n>', 'stacked recurrent layers').argParser(int(1)).default(1))
    .addOption(new Option('--bidirectional', 'run a second layer over the reversed sequence').default(false))
    .addOption(new Option('--steps <n>', 'total training steps').argParser(int(1)).default(1000))
    .addOption(new Option('--batch <n>', 'batch size').argParser(int(1)).default(32))
    .addOption(new Option('--lr <x>', 'Adam learning rate (warmup, then cosine to lr/10)').argParser(positive).default(0.01))
    .addOption(new Option('--forget-bias <x>', 'LSTM: initial forget-gate bias').argParser(finite).default(1))
    .addOption(new Option('--input-dropout <p>', "dropout on each recurrent layer's input, one mask per sequence, in [0, 1)").argParser(rate).default(0))
    .addOption(new Option('--recurrent-dropout <p>', 'dropout on the recurrent h, one mask per sequence (Keras recurrent_dropout), in [0, 1)').argParser(rate).default(0))
    .addOption(new Option('--zoneout <p>', 'zoneout: each unit keeps its previous value with probability p, a fresh mask per step; one rate, or per state entry as h=P,c=P').argParser(zoneout).default(0))
    .addOption(new Option('--clip <x>', "max gradient norm, 'none' for no clipping").argParser(clipValue).default(1, '1'))
    .addOption(new Option('--seed <n>', 'random seed (initialisation and data)').argParser(int(0)).default(0))
    .addOption(new Option('--seq-len <n>', 'sequence length').argParser(int(2)).default(null, 'adding 30, echo 20, charlm 32'))
    .addOption(new Option('--delay <k>', 'echo: how many steps back to repeat').argParser(int(1)).default(5))
    .addOption(new Option('--text <file>', 'charlm: training text (UTF-8)').default(null, 'the embedded text'))
    .addOption(new Option('--out <file>', 'checkpoint file').default(null, 'checkpoints/<task>-<cell>.safetensors'))
    .addOption(new Option('--checkpoint-every <n>', 'write the checkpoint every n steps (and at the end)').argParser(int(1)).default(100))
    .addOption(new Option('--resume', 'continue from the checkpoint at --out; the run goes on bit for bit as if never stopped').default(false))
    .addOption(new Option('--log-every <n>', 'print a progress line every n steps (plain-line mode)').argParser(int(1)).default(null, 'steps/20'))
    .addOption(progressOption())
    .action(async (opts, cmd) => (await import('./train.js')).trainCommand(opts, cmd));

  program
    .command('sample')
    .description('generate text from a character-LM checkpoint')
    .addOption(new Option('--checkpoint <file>', 'a checkpoint written by `seqgrad train --task charlm` (required)').makeOptionMandatory())
    .addOption(new Option('--prompt <text>', 'text to start from').default('the '))
    .addOption(new Option('--length <n>', 'characters to generate').argParser(int(1)).default(200))
    .addOption(new Option('--temperature <x>', 'softmax temperature (0 = always the most likely character)').argParser(nonNegative).default(0.8))
    .addOption(new Option('--seed <n>', 'random seed of the sampler').argParser(int(0)).default(0))
    .addOption(new Option('--cell <path>', "the custom cell's module, when the checkpoint was trained with one (its SHA-256 must match)").default(null, 'none: a built-in cell'))
    .action(async (opts) => (await import('./sample.js')).sampleCommand(opts));

  program
    .command('gradcheck')
    .description("check a cell's gradients: autograd vs finite differences (gradcheck) and vs the hand-derived BPTT (checkBptt); prints a verdict naming the first time step and gate that disagree")
    .addOption(new Option('--cell <name|path>', 'rnn, lstm, gru, or a path to a module exporting a cell').argParser(cellName).default('lstm'))
    .addOption(new Option('--batch <n>', 'batch size').argParser(int(1)).default(2))
    .addOption(new Option('--seq-len <n>', 'time steps').argParser(int(1)).default(5))
    .addOption(new Option('--input <n>', 'input size').argParser(int(1)).default(3))
    .addOption(new Option('--hidden <n>', 'hidden size').argParser(int(1)).default(4))
    .addOption(new Option('--seed <n>', 'random seed of weights and inputs').argParser(int(0)).default(0))
    .action(async (opts) => (await import('./gradcheck.js')).gradcheckCommand(opts));

  program
    .command('report')
    .description("render report.html again from an experiment's results.json (after changing the plots, or to move a report)")
    .argument('<results.json>', 'the results.json an experiment wrote')
    .addOption(new Option('--out <dir>', 'where to write report.html').default(null, "the results file's directory"))
    .addOption(new Option('--markdown', 'print the results table as Markdown (as docs/cli.md quotes it) instead of writing report.html').default(false))
    .action(async (file, opts) => (await import('./experiment.js')).reportCommand(file, opts));

  program
    .command('playground')
    .description('serve the playground page (train cells in the browser, watch gradients flow) on 127.0.0.1, building it first if needed')
    .addOption(new Option('--port <n>', 'port on 127.0.0.1 (0: any free port)').default('5317'))
    .addOption(new Option('--build', 'build the page again even if it was built').default(false))
    .action(async (opts) => (await import('./playground.js')).playgroundCommand(opts));

  for (const cmd of program.commands) {
    cmd.helpOption('-h, --help', 'show help (every flag with its default)').showSuggestionAfterError(true);
  }
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    if (process.env.SEQGRAD_DEBUG) console.error(err);
    process.stderr.write(`seqgrad: ${await userMessage(err)}\n`);
    return err instanceof CliError ? err.exitCode : 1;
  }
}

/**
 * The one line a user sees for an error: a CliError's or a library error's message; a system
 * error (EEXIST, EISDIR, …) in words with its path, never the raw code; an engine limit named.
 */
export async function userMessage(err: unknown): Promise<string> {
  const e = err as NodeJS.ErrnoException | null;
  if (e && typeof e.code === 'string' && /^E[A-Z]+$/.test(e.code) && typeof e.syscall === 'string') {
    const { describeSystemError } = await import('@seqgrad/io/node');
    return `${e.path ?? e.syscall}: ${describeSystemError(err).reason}`;
  }
  if (err instanceof RangeError && /Maximum call stack size exceeded|Invalid (string|array|typed array) length|Array buffer allocation failed/.test(err.message)) {
    return `the run is too large for this process (${err.message}); use smaller --hidden, --layers, --batch or --seq-len`;
  }
  return oneLine(err);
}
