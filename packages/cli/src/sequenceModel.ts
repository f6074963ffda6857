/**
 * The model the CLI trains: [Embedding] → recurrent layer(s) → Linear head, with PyTorch's
 * parameter names (`embedding.weight`, `rnn.weight_ih_l0`, `head.weight`, …), so a checkpoint
 * loads into the equivalent `torch.nn` modules (see docs/cli.md). Free of Node APIs (exported
 * as `seqgrad/model` for pages); loading a cell module from a file is in cellModule.ts.
 */
import * as autograd from '@seqgrad/autograd';
import { Generator, type Tensor, select } from '@seqgrad/autograd';
import {
  Bidirectional, Embedding, GRU, GRUCell, LSTM, LSTMCell, Linear, Module, RNN, RNNBase, RNNCell, Recurrent, RecurrentCell,
  type SequenceLayer, type SequenceResult, Stacked, hiddenGradients,
} from '@seqgrad/layers';
import { type Regularization } from './config.js';
import { type BuiltinCell } from './cellNames.js';
import { CliError } from './errors.js';

export interface ModelConfig {
  cell: string;
  hidden: number;
  layers: number;
  bidirectional: boolean;
  inputKind: 'dense' | 'tokens';
  inputSize: number;
  outputSize: number;
  readout: 'last' | 'all';
  /** Embedding size for token input. */
  embed: number;
  /** LSTM: initial forget-gate bias (Jozefowicz et al. 2015 recommend 1); PyTorch's init when absent. */
  forgetBias?: number;
  /** Dropout and zoneout of the recurrent layers (training mode only; masks from the model's generator). */
  regularization?: Regularization;
}

/** What a cell is built with: its dtype and the generator of its initialisation. */
export interface CellBuildOptions {
  dtype?: 'float32' | 'float64';
  generator?: Generator;
}

/** A factory for a user's cell: `(inputSize, hiddenSize, opts) => RecurrentCell`. */
export type CellFactory = (inputSize: number, hiddenSize: number, opts?: CellBuildOptions) => RecurrentCell;

/**
 * Runs one step of a cell on zeros (batch 2, no gradient) and checks that the state it returns
 * has exactly the keys of `stateSizes`, each of shape [B, size], so a cell returning H+1
 * columns is refused by name here rather than failing later inside a Linear.
 */
export function checkStepState(cell: RecurrentCell, inputSize: number, where: string): void {
  const B = 2;
  const sizes = cell.stateSizes as Record<string, number>;
  let next: Record<string, unknown>;
  try {
    next = autograd.noGrad(() => cell.step(autograd.zeros([B, inputSize], { dtype: cell.dtype }), cell.initialState(B))) as Record<string, unknown>;
  } catch (err) {
    throw new CliError(`${where}: step(x[${B},${inputSize}], state) failed: ${(err as Error).message?.split('\n')[0]}`);
  }
  const want = Object.keys(sizes);
  const got = next && typeof next === 'object' ? Object.keys(next) : [];
  if (want.length !== got.length || want.some((k) => !got.includes(k))) {
    throw new CliError(`${where}: step returned a state with keys {${got.join(', ')}} but stateSizes has {${want.join(', ')}}`);
  }
  for (const k of want) {
    const t = next[k];
    const shape = t instanceof autograd.Tensor ? t.shape : null;
    if (!shape || shape.length !== 2 || shape[0] !== B || shape[1] !== sizes[k]) {
      throw new CliError(`${where}: step returned state ${k}${shape ? `[${shape.join(',')}]` : ` (not a Tensor)`} for a batch of ${B}, but stateSizes.${k} is ${sizes[k]}, so it must be [${B},${sizes[k]}]`);
    }
  }
}

/** A built-in composed cell by its CLI name: RNNCell (tanh), LSTMCell or GRUCell. */
export function builtinCell(name: BuiltinCell, inputSize: number, hiddenSize: number, opts: CellBuildOptions = {}): RecurrentCell {
  if (name === 'rnn') return new RNNCell(inputSize, hiddenSize, opts);
  if (name === 'lstm') return new LSTMCell(inputSize, hiddenSize, opts);
  return new GRUCell(inputSize, hiddenSize, opts);
}


/** Embedding (token input) → recurrent layers → Linear head on the last step or every step. */
export class SequenceModel extends Module {
  readonly embedding: Embedding | null;
  /** RNN, LSTM or GRU for a built-in cell; Recurrent, Bidirectional or Stacked over a custom one. */
  readonly rnn: SequenceLayer;
  readonly head: Linear;
  /** The built-in layer's cell that `gradientFlow` runs (made on first use). */
  private flowCell: RecurrentCell | undefined;

  /**
   * `generator` draws the initial weights, then the recurrent layers' dropout and zoneout
   * masks (its state goes into checkpoints, so a resumed run draws the same masks).
   */
  constructor(readonly config: ModelConfig, readonly generator: Generator, cellFactory?: CellFactory) {
    super();
    const { hidden, inputKind, inputSize } = config;
    const D = config.bidirectional ? 2 : 1;
    this.embedding = inputKind === 'tokens' ? this.registerModule('embedding', new Embedding(inputSize, config.embed, { generator })) : null;
    const rnnIn = inputKind === 'tokens' ? config.embed : inputSize;
    const reg = { ...config.regularization };
    const opts = { numLayers: config.layers, bidirectional: config.bidirectional, batchFirst: true, generator, ...reg };
    let rnn: SequenceLayer;
    if (cellFactory) {
      const masks = { ...reg, generator };
      const one = (i: number): Recurrent | Bidirectional =>
        config.bidirectional
          ? new Bidirectional(new Recurrent(cellFactory(i, hidden, { generator })), new Recurrent(cellFactory(i, hidden, { generator }), { reverse: true }), masks)
          : new Recurrent(cellFactory(i, hidden, { generator }), masks);
      rnn = config.layers === 1 ? one(rnnIn) : new Stacked(Array.from({ length: config.layers }, (_, k) => one(k === 0 ? rnnIn : D * hidden)));
    } else if (config.cell === 'rnn') rnn = new RNN(rnnIn, hidden, opts);
    else if (config.cell === 'lstm') rnn = new LSTM(rnnIn, hidden, config.forgetBias === undefined ? opts : { ...opts, forgetBias: config.forgetBias });
    else if (config.cell === 'gru') rnn = new GRU(rnnIn, hidden, opts);
    else throw new CliError(`cell '${config.cell}' is a custom cell: pass its module with --cell`);
    this.rnn = this.registerModule('rnn', rnn);
    this.head = this.registerModule('head', new Linear(D * hidden, config.outputSize, { generator }));
  }

  /** The recurrent layer's output sequence (B, T, D·H) for a batch of inputs. */
  features(input: Tensor): Tensor {
    const x = this.embedding ? this.embedding.forward(input) : input;
    return this.rnn.forward(x).output;
  }

  /** (B, O) for readout 'last', (B, T, O) for 'all'. */
  forward(input: Tensor): Tensor {
    const seq = this.features(input);
    return this.head.forward(this.config.readout === 'last' ? select(seq, 1, seq.shape[1]! - 1) : seq);
  }

  /**
   * Runs a batch of sequences from a given recurrent state (none: zeros) and returns the
   * head's output at every step, (B, T, O), and the final state, so text can be generated
   * one character at a time without re-reading the prefix.
   */
  run(input: Tensor, state?: unknown): SequenceResult<unknown> {
    const x = this.embedding ? this.embedding.forward(input) : input;
    const r = this.rnn.forward(x, state);
    return { output: this.head.forward(r.output), state: r.state };
  }

  /**
   * ‖dL/dh_t‖ for t = 0..T−1 (Frobenius norm over the batch) of the first recurrent layer:
   * the total gradient reaching h_t, the direct one plus everything flowing back through
   * h_{t+1}, measured by `hiddenGradients` (scan with a zero probe added to every h_t) on the
   * layer's cell without dropout or zoneout. Defined for one unidirectional layer (the
   * experiment's setting); null otherwise.
   */
  gradientFlow(input: Tensor, loss: (out: Tensor) => Tensor): number[] | null {
    const { config } = this;
    if (config.layers !== 1 || config.bidirectional) return null;
    let cell: RecurrentCell;
    if (this.rnn instanceof Recurrent) cell = this.rnn.cell;
    // One cell over the layer's own parameters, kept, so scan's compiled plan is reused.
    else if (this.rnn instanceof RNNBase) cell = this.flowCell ??= this.rnn.cell();
    else return null;
    const x = this.embedding ? this.embedding.forward(input).detach() : input;
    const B = x.shape[0]!;
    const readout = (seq: Tensor) => this.head.forward(config.readout === 'last' ? select(seq, 1, seq.shape[1]! - 1) : seq);
    const { norms } = hiddenGradients(cell, x, cell.initialState(B), (r) => loss(readout(r.output)));
    return Array.from(norms);
  }
}

/** Builds the model for a config; `seed` fixes its initialisation; `cellFactory` builds a custom cell. */
export function buildModel(config: ModelConfig, seed: number, cellFactory?: CellFactory): SequenceModel {
  return new SequenceModel(config, new Generator(seed), cellFactory);
}
