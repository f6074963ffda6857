import type { Tensor } from './tensor.js';

/**
 * The state of forward-mode differentiation: one level per running `jvp`, each mapping a
 * tensor to its tangent (a tensor of its shape). A tensor without an entry has tangent 0.
 * Levels nest (a jvp inside a jvp); while a primitive computes its output's tangent for one
 * level, that level is suspended, so the tangent's own ops do not get tangents at it.
 */
export class ForwardLevel {
  readonly tangents = new WeakMap<Tensor, Tensor>();
  suspended = false;
}

const levels: ForwardLevel[] = [];

/** @internal The levels that take tangents right now (outermost first). */
export function activeLevels(): ForwardLevel[] {
  return levels.length === 0 ? levels : levels.filter((l) => !l.suspended);
}

/** @internal Runs `fn` with a new forward level; returns its result and the level. */
export function withForwardLevel<R>(fn: (level: ForwardLevel) => R): R {
  const level = new ForwardLevel();
  levels.push(level);
  try {
    return fn(level);
  } finally {
    levels.pop();
  }
}

/** @internal Runs `fn` with `level` suspended (its tangent computations get no tangents at it). */
export function suspended<R>(level: ForwardLevel, fn: () => R): R {
  const prev = level.suspended;
  level.suspended = true;
  try {
    return fn();
  } finally {
    level.suspended = prev;
  }
}
