import { MAX_NUMEL, checkOptions, checkShape, show, tensor } from '@seqgrad/autograd';
import { describe, expect, test } from 'vitest';

describe('argument checks', () => {
  test('checkOptions: suggests the known name for snake_case, case and small typos, none for a far one', () => {
    const known = ['numLayers', 'batchFirst', 'dropout'];
    expect(() => checkOptions('LSTM', { num_layers: 2 }, known)).toThrow("LSTM: unknown option 'num_layers' (did you mean 'numLayers'?); the options are numLayers, batchFirst, dropout");
    expect(() => checkOptions('LSTM', { BatchFirst: true }, known)).toThrow("(did you mean 'batchFirst'?)");
    expect(() => checkOptions('LSTM', { dropuot: 0.1 }, known)).toThrow("(did you mean 'dropout'?)");
    expect(() => checkOptions('LSTM', { learningRate: 1 }, known)).toThrow(/^LSTM: unknown option 'learningRate'; the options are/);
    expect(() => checkOptions('LSTM', undefined, known)).not.toThrow();
    expect(() => checkOptions('LSTM', [1], known)).toThrow('LSTM: options must be an object, got an array of 1');
  });

  test('checkShape: refuses more than MAX_NUMEL elements, naming the op and the shape', () => {
    expect(() => checkShape('zeros', [MAX_NUMEL])).not.toThrow();
    expect(() => checkShape('zeros', [MAX_NUMEL + 1])).toThrow(`zeros: shape [${MAX_NUMEL + 1}] has ${MAX_NUMEL + 1} elements, more than the ${MAX_NUMEL} a tensor can hold`);
    expect(() => checkShape('zeros', [2, NaN])).toThrow('zeros: shape [2,NaN] must hold non-negative integers');
  });

  test('show: names the kind of a value', () => {
    expect([show('a'), show(3), show(null), show(undefined), show([1, 2]), show(tensor([[1, 2]]))]).toEqual([
      "the string 'a'", 'the number 3', 'null', 'undefined', 'an array of 2', 'a Tensor[1,2]',
    ]);
  });

  test('tensor: booleans are 0 and 1; anything else but numbers is refused with its position', () => {
    expect(Array.from(tensor([true, false, 2]).data)).toEqual([1, 0, 2]);
    expect(() => tensor([[1, 2], [3, '4' as never]])).toThrow("tensor: data[1][1] is the string '4'; a tensor holds numbers (or booleans) only");
    expect(() => tensor(null as never)).toThrow('tensor: data must be a number, a nested array of numbers or a typed array, got null');
  });
});
