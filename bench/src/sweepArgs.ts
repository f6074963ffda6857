/** The command line of the benchmarks that sweep layers and sizes in rounds (gates.ts, threads.ts). */
import { parseArgs } from 'node:util';
import { type LayerKind, type Mode, SIZES } from './workloads.js';

export interface SweepArgs {
  sizes: string[];
  layers: LayerKind[];
  modes: Mode[];
  rounds: number;
}

/** --sizes S,M --layers LSTM,GRU,RNN --modes train,forward --rounds 5, checked; unknown options are errors. */
export function sweepArgs(argv: string[], defaults: { modes?: string } = {}): SweepArgs {
  const { values } = parseArgs({
    args: argv,
    options: {
      sizes: { type: 'string', default: 'S,M' },
      layers: { type: 'string', default: 'LSTM,GRU,RNN' },
      modes: { type: 'string', default: defaults.modes ?? 'train' },
      rounds: { type: 'string', default: '5' },
    },
  });
  const list = <T extends string>(name: string, text: string, allowed: readonly string[]): T[] => {
    const items = text.split(',');
    for (const v of items) if (!allowed.includes(v)) throw new Error(`--${name}: '${v}' is not one of ${allowed.join(', ')}`);
    return items as T[];
  };
  const rounds = Number(values.rounds);
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds must be a positive integer, got '${values.rounds}'`);
  return {
    sizes: list('sizes', values.sizes!, Object.keys(SIZES)),
    layers: list<LayerKind>('layers', values.layers!, ['LSTM', 'GRU', 'RNN']),
    modes: list<Mode>('modes', values.modes!, ['train', 'forward']),
    rounds,
  };
}
