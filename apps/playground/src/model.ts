/**
 * The network a run trains: [Embedding] → one recurrent layer → Linear head, reading the last
 * step (adding problem) or every step (echo, character LM). Built-in cells use the
 * PyTorch-compatible RNN/LSTM/GRU layers (fused BPTT); a custom cell runs under `Recurrent`.
 */
import * as autograd from '@seqgrad/autograd';
import { type Generator, type Tensor, select } from '@seqgrad/autograd';
import * as layers from '@seqgrad/layers';
import { Embedding, GRU, LSTM, Linear, Module, RNN, Recurrent, RecurrentCell, type SequenceLayer } from '@seqgrad/layers';
import type { Task } from 'seqgrad/tasks';
import { type CellFactory } from './cellCode.js';
import type { CellChoice } from './protocol.js';

/** Size of the character embedding of the character LM. */
export const EMBED = 16;

export class PlaygroundModel extends Module {
  readonly embedding: Embedding | null;
  readonly rnn: RNN | LSTM | GRU | Recurrent;
  readonly head: Linear;

  constructor(readonly cell: CellChoice, readonly task: Task, readonly hidden: number, generator: Generator, factory?: CellFactory, forgetBias: number | null = null) {
    super();
    this.embedding = task.inputKind === 'tokens' ? this.registerModule('embedding', new Embedding(task.inputSize, EMBED, { generator })) : null;
    const I = this.recurrentInputSize;
    const opts = { batchFirst: true, generator };
    let rnn: RNN | LSTM | GRU | Recurrent;
    if (cell === 'rnn') rnn = new RNN(I, hidden, opts);
    else if (cell === 'lstm') rnn = new LSTM(I, hidden, forgetBias === null ? opts : { ...opts, forgetBias });
    else if (cell === 'gru') rnn = new GRU(I, hidden, opts);
    else {
      if (!factory) throw new Error(`cell '${cell}' needs its factory`);
      rnn = new Recurrent(factory(I, hidden, { generator }));
    }
    this.rnn = this.registerModule('rnn', rnn);
    this.head = this.registerModule('head', new Linear(hidden, task.outputSize, { generator }));
  }

  /**
   * How the head reads the sequence, in the shape `exportOnnx` recognises for a sequence model
   * (embedding?, rnn, head and `config.readout`).
   */
  get config(): { readout: 'last' | 'all' } {
    return { readout: this.task.readout };
  }

  /** Features per step that enter the recurrent layer. */
  get recurrentInputSize(): number {
    return this.task.inputKind === 'tokens' ? EMBED : this.task.inputSize;
  }

  /** The input of the recurrent layer (B, T, I): the embedded tokens or the dense input. */
  embed(input: Tensor): Tensor {
    return this.embedding ? this.embedding.forward(input) : input;
  }

  /** The head's output for a sequence of hidden states (B, T, H): (B, O) or (B, T, O). */
  readout(seq: Tensor): Tensor {
    return this.head.forward(this.task.readout === 'last' ? select(seq, 1, seq.shape[1]! - 1) : seq);
  }

  /**
   * The head's output at every step (B, T, O) and the final recurrent state, from a given state
   * (none: zeros): what `sampleText` of `seqgrad/model` drives, one character at a time.
   */
  run(input: Tensor, state?: unknown): { output: Tensor; state: unknown } {
    const r = (this.rnn as SequenceLayer).forward(this.embed(input), state);
    return { output: this.head.forward(r.output), state: r.state };
  }

  forward(input: Tensor): Tensor {
    const x = this.embed(input);
    const { output } = this.rnn.forward(x);
    return this.readout(output);
  }
}

/** What a factory in the editor is given, as in docs/custom-cells.md. */
export const LIBRARY = { autograd, layers } as const;

export function isCell(value: unknown): value is RecurrentCell {
  return value instanceof RecurrentCell;
}
