import type { Primitive } from '../primitives.js';
import { elementwiseRules } from './elementwise.js';
import { indexingRules } from './indexing.js';
import { matmulRules } from './matmul.js';
import type { Rule } from './op.js';
import { reductionRules } from './reduce.js';
import { shapeRules } from './shape.js';

/**
 * Every primitive's rule, keyed by the `Primitive` union: a primitive without a rule here, or
 * with a rule whose arguments do not match `PrimitiveArgs`, does not compile. The rules live
 * beside their ops (ops/elementwise.ts, reduce.ts, matmul.ts, shape.ts, indexing.ts).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each rule's saved values have their own type
export const RULES: { readonly [P in Primitive]: Rule<P, any> } = {
  ...elementwiseRules,
  ...reductionRules,
  ...matmulRules,
  ...shapeRules,
  ...indexingRules,
};
