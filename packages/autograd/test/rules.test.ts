import { describe, expect, test } from 'vitest';
import { PRIMITIVES } from '@seqgrad/autograd';
import { RULES } from '../src/ops/rules.js';

describe('RULES', () => {
  test('RULES: holds exactly one rule per primitive, each with a forward and a backward', () => {
    expect(Object.keys(RULES).sort()).toEqual([...PRIMITIVES].sort());
    for (const p of PRIMITIVES) {
      expect(typeof RULES[p].forward, p).toBe('function');
      expect(typeof RULES[p].backward, p).toBe('function');
    }
  });
});
