import { isTensor, SeqgradError, type Tensor } from '@seqgrad/autograd';

/**
 * A parameter group as the user writes it: its tensors plus options that override the
 * optimizer's defaults for this group only (`{ params: head.parameters(), lr: 1e-2 }`).
 */
export interface ParamGroupInput {
  params: Iterable<Tensor>;
  [option: string]: unknown;
}

/**
 * What optimizers and the clipping functions accept: one tensor, anything iterable of
 * tensors (an array, `module.parameters()`, a generator), or parameter groups.
 */
export type ParamsInput = Tensor | Iterable<Tensor> | Iterable<ParamGroupInput>;

/** Splits the input into groups of tensors (one group for a plain list). */
export function toGroups(op: string, input: ParamsInput): { params: Tensor[]; options: Record<string, unknown> }[] {
  if (isTensor(input)) return [{ params: [input], options: {} }];
  if (input == null || typeof (input as Iterable<unknown>)[Symbol.iterator] !== 'function') {
    throw new SeqgradError(op, `params must be a tensor, an iterable of tensors or an iterable of parameter groups, got ${describe(input)}`);
  }
  const items = [...(input as Iterable<unknown>)];
  if (items.every(isTensor)) return [{ params: items as Tensor[], options: {} }];
  return items.map((item, i) => {
    if (isTensor(item) || item == null || typeof item !== 'object' || !('params' in item)) {
      throw new SeqgradError(op, `params[${i}] is ${describe(item)}; pass either only tensors or only parameter groups { params, ...options }`);
    }
    const { params, ...options } = item as ParamGroupInput;
    const tensors = isTensor(params) ? [params] : [...(params as Iterable<unknown>)];
    tensors.forEach((t, j) => {
      if (!isTensor(t)) throw new SeqgradError(op, `params[${i}].params[${j}] is ${describe(t)}, not a tensor`);
    });
    return { params: tensors as Tensor[], options };
  });
}

/** Every tensor of the input, in order, each once. */
export function flattenParams(op: string, input: ParamsInput): Tensor[] {
  const seen = new Set<Tensor>();
  for (const g of toGroups(op, input)) for (const p of g.params) seen.add(p);
  return [...seen];
}

function describe(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'an array';
  return typeof x === 'object' ? (x.constructor?.name ?? 'an object') : `${typeof x} ${String(x)}`;
}
