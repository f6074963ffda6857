import { expect, test } from 'vitest';
import { sweepArgs } from '../src/sweepArgs.js';

test('sweepArgs: defaults, lists and rounds from the command line', () => {
  expect(sweepArgs([])).toEqual({ sizes: ['S', 'M'], layers: ['LSTM', 'GRU', 'RNN'], modes: ['train'], rounds: 5 });
  expect(sweepArgs([], { modes: 'train,forward' }).modes).toEqual(['train', 'forward']);
  expect(sweepArgs(['--sizes', 'L', '--layers', 'GRU,RNN', '--modes', 'forward', '--rounds', '3'])).toEqual({
    sizes: ['L'], layers: ['GRU', 'RNN'], modes: ['forward'], rounds: 3,
  });
});

test('sweepArgs: an unknown size, layer, mode or option, or rounds that are not a positive integer, are errors', () => {
  expect(() => sweepArgs(['--sizes', 'S,XL'])).toThrow("--sizes: 'XL' is not one of S, M, L");
  expect(() => sweepArgs(['--layers', 'lstm'])).toThrow("--layers: 'lstm' is not one of LSTM, GRU, RNN");
  expect(() => sweepArgs(['--modes', 'backward'])).toThrow("--modes: 'backward' is not one of train, forward");
  expect(() => sweepArgs(['--rounds', '0'])).toThrow("--rounds must be a positive integer, got '0'");
  expect(() => sweepArgs(['--round', '3'])).toThrow(/Unknown option '--round'/);
});
