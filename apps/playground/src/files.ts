/**
 * Bringing and taking models. A run is saved with `saveModule` (its weights under PyTorch's
 * names and a JSON description of the run). A file is read back either as such a module file
 * or as a checkpoint written by `seqgrad train` (format `seqgrad.checkpoint.v2`), read by
 * `seqgrad/model` with the CLI's checks: its config is data, checked field by field and bounded,
 * and every weight's dtype and shape is compared with the rebuilt model before it is read. Nothing in a file is executed: a custom cell's code
 * is never stored, the editor's code builds it.
 */
import { Generator } from '@seqgrad/autograd';
import { type TensorSpec, MODULE_FORMAT, exportOnnx, loadSafetensors, readSafetensorsHeader, saveModule } from '@seqgrad/io';
import { CHECKPOINT_FORMAT, loadCheckpointTensors, readCheckpoint, specOf } from 'seqgrad/model';
import { TASK_NAMES, type TaskName } from 'seqgrad/tasks';
import type { PlaygroundModel } from './model.js';
import { EMBED } from './model.js';
import { BUILTIN_CELLS, type CellChoice, EXAMPLE_CELLS, type RunConfig } from './protocol.js';

/** Echo's alphabet size, the same in the CLI and here. */
const SYMBOLS = 8;

export interface RunFile {
  config: RunConfig;
  /** What the file was, for the page: "seqgrad train checkpoint (step 150)". */
  source: string;
  /** The training step the weights come from. */
  step: number;
  /** charlm: the vocabulary the weights were trained with. */
  vocab?: string[];
}

export function saveRun(model: PlaygroundModel, config: RunConfig, step: number, vocab: string[] | undefined): Uint8Array {
  const { task, cell, hidden, seqLen, delay, lr, clip, batch, seed, forgetBias } = config;
  return saveModule(model, { kind: 'seqgrad.playground.run', task, cell, hidden, seqLen, delay, lr, clip, batch, seed, forgetBias, step, embed: EMBED, vocab: vocab ?? null });
}

/**
 * The model as an ONNX graph (`exportOnnx`: the recurrent layer as ONNX's own operator). One
 * example sequence fixes the feature sizes; batch and sequence stay dynamic in the graph.
 */
export function exportRunOnnx(model: PlaygroundModel): Uint8Array {
  return exportOnnx(model, model.task.batch(1, new Generator(0)).input);
}

function fail(what: string): never {
  throw new Error(`this file cannot be loaded: ${what}`);
}

function int(c: Record<string, unknown>, key: string, min: number, max: number): number {
  const v = c[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) fail(`its ${key} ${JSON.stringify(v)} is not an integer in ${min}..${max}`);
  return v;
}

function vocabOf(c: Record<string, unknown>): string[] | undefined {
  const v = c.vocab;
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.length < 2 || v.length > 4096 || !v.every((ch) => typeof ch === 'string' && Array.from(ch).length === 1)) fail('its vocab is not a list of characters');
  return v as string[];
}

/** Reads what a file says about its run; `current` supplies what the file does not hold (the text, the custom cell's code). */
export function readRunFile(bytes: Uint8Array, current: RunConfig, name = 'file'): RunFile {
  const { metadata } = readSafetensorsHeader(bytes);
  const parse = (key: string): Record<string, unknown> => {
    try {
      const v = JSON.parse(metadata[key] ?? '') as unknown;
      if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
    } catch {
      // reported below
    }
    return fail(`its metadata '${key}' is not a JSON object`);
  };
  let c: Record<string, unknown>;
  let source: string;
  let step: number;
  if (metadata.format === MODULE_FORMAT) {
    c = parse('description');
    if (c.kind !== 'seqgrad.playground.run') fail(`it is a module file of kind ${JSON.stringify(c.kind)}, not a playground run`);
    step = int(c, 'step', 0, 1e9);
    source = `playground file (step ${step})`;
  } else if (metadata.format === CHECKPOINT_FORMAT) {
    const ck = readCheckpoint(bytes, { source: name });
    c = ck.config as unknown as Record<string, unknown>;
    step = ck.step;
    if (c.layers !== 1 || c.bidirectional !== false) fail('the playground runs one unidirectional layer (the checkpoint has layers or directions beyond that)');
    if (c.symbols !== SYMBOLS) fail(`echo has ${SYMBOLS} symbols here, the checkpoint ${JSON.stringify(c.symbols)}`);
    source = `seqgrad train checkpoint (step ${step})`;
  } else {
    return fail(`its metadata format is ${JSON.stringify(metadata.format)}, neither a seqgrad train checkpoint ('${CHECKPOINT_FORMAT}') nor a playground file ('${MODULE_FORMAT}')`);
  }
  const task = c.task as TaskName;
  if (!TASK_NAMES.includes(task)) fail(`its task ${JSON.stringify(c.task)} is not one of ${TASK_NAMES.join(', ')}`);
  let cell = c.cell as CellChoice;
  if (![...BUILTIN_CELLS, ...EXAMPLE_CELLS, 'custom'].includes(cell)) {
    // seqgrad train records a custom cell by its file's name; the editor's cell stands in for it.
    if (typeof c.cell !== 'string' || metadata.format !== CHECKPOINT_FORMAT) fail(`its cell ${JSON.stringify(c.cell)} is not one of ${[...BUILTIN_CELLS, ...EXAMPLE_CELLS, 'custom'].join(', ')}`);
    cell = 'custom';
  }
  if (c.embed !== undefined && c.embed !== EMBED) fail(`the character embedding has size ${EMBED} here, the file ${JSON.stringify(c.embed)}`);
  const forgetBias = typeof c.forgetBias === 'number' && Number.isFinite(c.forgetBias) ? c.forgetBias : null;
  const config: RunConfig = {
    ...current,
    cell,
    task,
    hidden: int(c, 'hidden', 1, 1024),
    seqLen: int(c, 'seqLen', 2, 10_000),
    delay: int(c, 'delay', 1, 10_000),
    forgetBias,
  };
  return { config, source, step, vocab: task === 'charlm' ? vocabOf(c) ?? fail('it has no vocabulary') : undefined };
}

/** Loads the file's weights into a model built from its config (strict for playground files; optimizer tensors skipped in checkpoints). */
export function loadWeights(bytes: Uint8Array, model: PlaygroundModel, name = 'file'): void {
  const { metadata } = readSafetensorsHeader(bytes);
  if (metadata.format === CHECKPOINT_FORMAT) {
    const ck = readCheckpoint(bytes, { source: name });
    model.loadStateDict(loadCheckpointTensors(ck.header, specOf(model.namedParameters())).model);
    return;
  }
  const expect: Map<string, TensorSpec> = specOf(model.namedParameters());
  const { tensors } = loadSafetensors(bytes, { expect, strict: true });
  model.loadStateDict(new Map([...expect.keys()].map((n) => [n, tensors.get(n)!])));
}
