/**
 * The training config a checkpoint stores, checked field by field when read back, and the
 * model's parameter shapes computed from it without building anything, so a config that does
 * not agree with the tensors in a file (a claimed `hidden: 20000`, a relabelled dtype, a
 * missing layer) is refused before a byte of the model is allocated.
 */
import type { HeaderEntry, TensorSpec } from '@seqgrad/io';
import { isBuiltinCell } from './cellNames.js';
import { CliError } from './errors.js';
import { TASK_NAMES, type TaskName } from './tasks.js';

/** Everything that defines a run; stored in checkpoints. */
export interface TrainConfig {
  task: TaskName;
  /** A built-in cell (rnn, lstm, gru), or the name of a custom cell (its module's base name). */
  cell: string;
  /** A custom cell: SHA-256 of its module file, so the same file must be given again. */
  cellSha256?: string;
  hidden: number;
  layers: number;
  bidirectional: boolean;
  steps: number;
  batch: number;
  lr: number;
  /** Max gradient norm, null for none. */
  clip: number | null;
  seed: number;
  seqLen: number;
  delay: number;
  symbols: number;
  embed: number;
  /** LSTM: initial forget-gate bias (absent: PyTorch's initialisation). */
  forgetBias?: number;
  /** Variational dropout on each layer's input, one mask per sequence (absent: none). */
  inputDropout?: number;
  /** Variational dropout on the recurrent h, one mask per sequence (absent: none). */
  recurrentDropout?: number;
  /** Zoneout: one rate for every state entry, or a rate per entry such as `{ h, c }` (absent: none). */
  zoneout?: Zoneout;
  /** charlm: '' for the embedded text, else the text file's base name (never a path to read). */
  text: string;
  /** charlm with a text file: SHA-256 of its bytes, so the same text must be given again. */
  textSha256?: string;
  /** charlm: the characters, index = token id. */
  vocab?: string[];
}

/** A zoneout setting: one rate, or rates by state entry name. */
export type Zoneout = number | Record<string, number>;

/** The dropout and zoneout settings of a config, as the layers take them (an empty object: none). */
export interface Regularization {
  inputDropout?: number;
  recurrentDropout?: number;
  zoneout?: Zoneout;
}

/** A rate in [0, 1), or why not. */
function rateProblem(v: unknown): string | null {
  return typeof v === 'number' && v >= 0 && v < 1 ? null : `is ${JSON.stringify(v)}, not a number in [0, 1)`;
}

/**
 * Parses `--zoneout`: one rate (`0.1`, every state entry) or rates per state entry
 * (`h=0.05,c=0.5`); each in [0, 1).
 */
export function parseZoneout(text: string): Zoneout {
  const bad = (why: string) => new CliError(`--zoneout ${text}: ${why}; give one rate in [0, 1) such as 0.1, or rates per state entry such as h=0.05,c=0.5`);
  const rate = (s: string): number => {
    const v = /^\s*[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?\s*$/i.test(s) ? Number(s) : NaN;
    if (!(v >= 0 && v < 1)) throw bad(`'${s}' is not a rate in [0, 1)`);
    return v;
  };
  if (!text.includes('=')) return rate(text);
  const out: Record<string, number> = {};
  for (const part of text.split(',')) {
    const m = /^\s*([A-Za-z_]\w*)\s*=(.*)$/.exec(part);
    if (!m) throw bad(`'${part}' is not entry=rate`);
    if (m[1]! in out) throw bad(`'${m[1]}' is given twice`);
    out[m[1]!] = rate(m[2]!);
  }
  return out;
}

/** The state entries of a built-in cell, for checking a per-entry zoneout. */
const BUILTIN_STATE: Record<string, readonly string[]> = { rnn: ['h'], lstm: ['h', 'c'], gru: ['h'] };

/**
 * The dropout and zoneout of a config, checked: rates in [0, 1); a per-entry zoneout names
 * state entries of a built-in cell (a custom cell's entries are checked when it is built).
 * Only rates above zero are kept, so a run without regularisation stores none.
 */
export function regularizationOf(c: Pick<TrainConfig, 'cell' | 'cellSha256' | 'inputDropout' | 'recurrentDropout' | 'zoneout'>, where: (field: string) => string): Regularization {
  const out: Regularization = {};
  for (const field of ['inputDropout', 'recurrentDropout'] as const) {
    const v = c[field];
    if (v === undefined) continue;
    const why = rateProblem(v);
    if (why) throw new CliError(`${where(field)} ${why}`);
    if (v > 0) out[field] = v;
  }
  const z = c.zoneout;
  if (z === undefined) return out;
  if (typeof z === 'number') {
    const why = rateProblem(z);
    if (why) throw new CliError(`${where('zoneout')} ${why}`);
    if (z > 0) out.zoneout = z;
    return out;
  }
  if (z === null || typeof z !== 'object' || Array.isArray(z)) throw new CliError(`${where('zoneout')} is ${JSON.stringify(z)}, not a rate or rates per state entry`);
  const entries = c.cellSha256 === undefined ? BUILTIN_STATE[c.cell] : undefined;
  const kept: Record<string, number> = {};
  for (const [k, v] of Object.entries(z)) {
    if (!/^[A-Za-z_]\w{0,99}$/.test(k)) throw new CliError(`${where('zoneout')} names ${JSON.stringify(k.slice(0, 40))}, not a state entry's name`);
    if (entries && !entries.includes(k)) throw new CliError(`${where('zoneout')} names '${k}', which is not a state entry of the ${c.cell} cell (${entries.join(', ')})`);
    const why = rateProblem(v);
    if (why) throw new CliError(`${where('zoneout')} ${k} ${why}`);
    if (v > 0) kept[k] = v;
  }
  if (Object.keys(kept).length) out.zoneout = kept;
  return out;
}

/** `zoneout 0.1` or `zoneout h=0.05,c=0.5`: the flag's own spelling. */
function zoneoutText(z: Zoneout): string {
  return typeof z === 'number' ? String(z) : Object.entries(z).map(([k, v]) => `${k}=${v}`).join(',');
}

/**
 * The dropout and zoneout of a config in words, for run labels and logs
 * (`recurrent dropout 0.25, zoneout 0.1`); '' when there is none.
 */
export function regularizationText(c: Regularization): string {
  const parts: string[] = [];
  if (c.inputDropout) parts.push(`input dropout ${c.inputDropout}`);
  if (c.recurrentDropout) parts.push(`recurrent dropout ${c.recurrentDropout}`);
  if (c.zoneout !== undefined) parts.push(`zoneout ${zoneoutText(c.zoneout)}`);
  return parts.join(', ');
}

/** Bounds on what one CLI run builds; beyond them a flag or a checkpoint is refused by name. */
export const LIMITS = {
  hidden: 16_384,
  layers: 1000,
  batch: 65_536,
  seqLen: 100_000,
  steps: 1_000_000_000,
  vocab: 65_536,
  /** Parameters of the whole model. */
  parameters: 100_000_000,
} as const;

const GATES: Record<string, number> = { rnn: 1, lstm: 4, gru: 3 };

/** Input and output sizes of a task's model. */
export function taskSizes(c: Pick<TrainConfig, 'task' | 'symbols' | 'vocab'>): { inputKind: 'dense' | 'tokens'; inputSize: number; outputSize: number } {
  if (c.task === 'adding') return { inputKind: 'dense', inputSize: 2, outputSize: 1 };
  if (c.task === 'echo') return { inputKind: 'dense', inputSize: c.symbols, outputSize: c.symbols };
  const V = c.vocab?.length ?? 0;
  return { inputKind: 'tokens', inputSize: V, outputSize: V };
}

/**
 * The parameters of the model a config describes, by name, computed arithmetically: exact for
 * the built-in cells; for a custom cell only the embedding and the head (its cell's shapes are
 * known once the user's module builds it).
 */
export function configSpec(c: TrainConfig): Map<string, TensorSpec> {
  const spec = new Map<string, TensorSpec>();
  const { inputKind, inputSize, outputSize } = taskSizes(c);
  const D = c.bidirectional ? 2 : 1;
  const H = c.hidden;
  if (inputKind === 'tokens') spec.set('embedding.weight', { dtype: 'F32', shape: [inputSize, c.embed] });
  const G = GATES[c.cell];
  if (G !== undefined && c.cellSha256 === undefined) {
    for (let l = 0; l < c.layers; l++) {
      const inSize = l === 0 ? (inputKind === 'tokens' ? c.embed : inputSize) : D * H;
      for (const suffix of D === 2 ? ['', '_reverse'] : ['']) {
        spec.set(`rnn.weight_ih_l${l}${suffix}`, { dtype: 'F32', shape: [G * H, inSize] });
        spec.set(`rnn.weight_hh_l${l}${suffix}`, { dtype: 'F32', shape: [G * H, H] });
        spec.set(`rnn.bias_ih_l${l}${suffix}`, { dtype: 'F32', shape: [G * H] });
        spec.set(`rnn.bias_hh_l${l}${suffix}`, { dtype: 'F32', shape: [G * H] });
      }
    }
  }
  spec.set('head.weight', { dtype: 'F32', shape: [outputSize, D * H] });
  spec.set('head.bias', { dtype: 'F32', shape: [outputSize] });
  return spec;
}

/** The number of parameters of a built-in model (the head and embedding only for a custom cell). */
export function parameterCount(c: TrainConfig): number {
  let n = 0;
  for (const s of configSpec(c).values()) n += s.shape.reduce((a, b) => a * b, 1);
  return n;
}

/**
 * Checks the sizes a run would build against LIMITS, naming the flag (`what` = 'flag') or the
 * checkpoint's field; refuses a bidirectional character LM, which sees the character it predicts.
 */
export function checkBuildable(c: TrainConfig, where: (field: string) => string): void {
  const bound = (field: keyof typeof LIMITS & keyof TrainConfig, value: number) => {
    if (value > LIMITS[field]) throw new CliError(`${where(field)} ${value} is above the limit of ${LIMITS[field]}`);
  };
  bound('hidden', c.hidden);
  bound('layers', c.layers);
  bound('batch', c.batch);
  bound('seqLen', c.seqLen);
  bound('steps', c.steps);
  if (c.task === 'charlm' && c.bidirectional) {
    throw new CliError(`${where('bidirectional')}: a bidirectional character LM reads the next character (its backward direction has seen it), so it would learn to copy, not to predict; train charlm without --bidirectional`);
  }
  const n = parameterCount(c);
  if (n > LIMITS.parameters) {
    throw new CliError(`${where('hidden')} ${c.hidden} with ${c.layers} layer(s) makes ${n.toExponential(2)} parameters, above the limit of ${LIMITS.parameters.toExponential(0)}`);
  }
}

const CONFIG_KEYS = [
  'task', 'cell', 'cellSha256', 'hidden', 'layers', 'bidirectional', 'steps', 'batch', 'lr', 'clip', 'seed', 'seqLen', 'delay', 'symbols', 'embed', 'forgetBias', 'text', 'textSha256', 'vocab',
  'inputDropout', 'recurrentDropout', 'zoneout',
];

/**
 * Reads a checkpoint's config field by field (types, ranges, the vocabulary) and returns it as
 * a TrainConfig; anything else is a one-line error naming the field.
 */
export function validateConfig(raw: Record<string, unknown>, source: string): TrainConfig {
  const bad = (field: string, why: string) => new CliError(`${source}: corrupt checkpoint: config '${field}' ${why}`);
  const int = (field: string, min: number): number => {
    const v = raw[field];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) throw bad(field, `is ${JSON.stringify(v)}, not an integer ≥ ${min}`);
    return v;
  };
  const str = (field: string, pattern: RegExp, what: string): string => {
    const v = raw[field];
    if (typeof v !== 'string' || !pattern.test(v)) throw bad(field, `is ${JSON.stringify(v)?.slice(0, 80)}, not ${what}`);
    return v;
  };
  const HASH = 'a SHA-256 (64 hex digits)';
  const unknown = Object.keys(raw).filter((k) => !CONFIG_KEYS.includes(k));
  if (unknown.length) throw bad(unknown[0]!.slice(0, 40), 'is not a setting seqgrad writes');
  const task = raw.task;
  if (typeof task !== 'string' || !(TASK_NAMES as readonly string[]).includes(task)) throw bad('task', `is ${JSON.stringify(task)?.slice(0, 40)}, not one of ${TASK_NAMES.join(', ')}`);
  const cellSha256 = raw.cellSha256 === undefined ? undefined : str('cellSha256', /^[0-9a-f]{64}$/, HASH);
  const cell = str('cell', /^[\w.-]{1,100}$/, "a cell's name (a checkpoint never holds a path to load)");
  if (cellSha256 === undefined && !isBuiltinCell(cell)) throw bad('cell', `'${cell}' is not a built-in cell and the checkpoint has no custom cell's hash`);
  const lr = raw.lr;
  if (typeof lr !== 'number' || !(lr > 0) || !Number.isFinite(lr)) throw bad('lr', `is ${JSON.stringify(lr)}, not a positive number`);
  const clip = raw.clip;
  if (clip !== null && (typeof clip !== 'number' || !(clip > 0) || !Number.isFinite(clip))) throw bad('clip', `is ${JSON.stringify(clip)}, not null or a positive number`);
  const forgetBias = raw.forgetBias;
  if (forgetBias !== undefined && (typeof forgetBias !== 'number' || !Number.isFinite(forgetBias))) throw bad('forgetBias', `is ${JSON.stringify(forgetBias)}, not a number`);
  if (typeof raw.bidirectional !== 'boolean') throw bad('bidirectional', `is ${JSON.stringify(raw.bidirectional)}, not true or false`);
  const text = raw.text === '' ? '' : str('text', /^[^/\\\0]{1,255}$/, "a file's base name (a checkpoint never holds a path to read)");
  const textSha256 = raw.textSha256 === undefined ? undefined : str('textSha256', /^[0-9a-f]{64}$/, HASH);
  if ((text === '') !== (textSha256 === undefined)) throw bad('text', 'and textSha256 disagree (a text file needs its hash, the embedded text none)');
  let vocab: string[] | undefined;
  if (task === 'charlm') {
    const v = raw.vocab;
    if (!Array.isArray(v) || v.length < 2 || v.length > LIMITS.vocab || !v.every((ch) => typeof ch === 'string' && Array.from(ch).length === 1) || new Set(v).size !== v.length) {
      throw bad('vocab', `is not a list of 2 to ${LIMITS.vocab} distinct characters`);
    }
    vocab = v as string[];
  }
  const config: TrainConfig = {
    task: task as TaskName, cell, hidden: int('hidden', 1), layers: int('layers', 1), bidirectional: raw.bidirectional, steps: int('steps', 1),
    batch: int('batch', 1), lr, clip: clip as number | null, seed: int('seed', 0), seqLen: int('seqLen', 1), delay: int('delay', 1),
    symbols: int('symbols', 2), embed: int('embed', 1), text,
  };
  if (cellSha256 !== undefined) config.cellSha256 = cellSha256;
  if (forgetBias !== undefined) config.forgetBias = forgetBias as number;
  if (textSha256 !== undefined) config.textSha256 = textSha256;
  if (vocab) config.vocab = vocab;
  const regularization = regularizationOf({ cell, cellSha256, ...(raw as Regularization) }, (field) => `${source}: corrupt checkpoint: config '${field}'`);
  Object.assign(config, regularization);
  checkBuildable(config, (field) => `${source}: config '${field}'`);
  return config;
}

/**
 * Compares a config with the tensors of a checkpoint's header before anything is built: every
 * tensor the config implies must be in the file with that dtype and shape; for a custom cell,
 * the number of layers and directions must be the file's.
 */
export function checkConfigAgainstHeader(c: TrainConfig, entries: ReadonlyMap<string, HeaderEntry>, source: string): void {
  for (const [name, want] of configSpec(c)) {
    const e = entries.get(name);
    if (!e) throw new CliError(`${source} does not match its config: tensor '${name}' ${want.dtype} [${want.shape.join(',')}] is missing from the file`);
    if (e.dtype !== want.dtype) throw new CliError(`${source} does not match its config: tensor '${name}' is ${e.dtype} in the file but the model holds ${want.dtype}`);
    if (e.shape.length !== want.shape.length || e.shape.some((d, i) => d !== want.shape[i])) {
      throw new CliError(`${source} does not match its config: tensor '${name}' has shape [${e.shape.join(',')}] in the file but the config (hidden ${c.hidden}, ${c.layers} layer(s)${c.bidirectional ? ', bidirectional' : ''}) makes [${want.shape.join(',')}]`);
    }
  }
  if (c.cellSha256 !== undefined) {
    const rnn = [...entries.keys()].filter((n) => n.startsWith('rnn.'));
    const layerIds = new Set(rnn.map((n) => (c.layers > 1 ? /^rnn\.(\d+)\./.exec(n)?.[1] : '0')));
    if (layerIds.has(undefined) || layerIds.size !== c.layers || [...layerIds].some((k) => Number(k) >= c.layers)) {
      throw new CliError(`${source} does not match its config: its recurrent tensors do not form the ${c.layers} layer(s) the config claims`);
    }
  }
}
