import { expect, test } from 'vitest';

/**
 * The misuse suite's one classifier. Every case is a call a user could make wrongly; its
 * outcome is one of four classes, and the only acceptable one is `named`:
 *
 * - `named`   an Error whose message contains every fragment the case expects (the public
 *             function, the argument, the shapes or values involved);
 * - `unclear` an error that does not say those things (a bare RangeError from the engine,
 *             an internal function's name, a raw system error such as EEXIST);
 * - `silent`  no error at all: the call returned (a wrong result, NaN, a default swapped in);
 * - `crash`   something that is not an Error was thrown, the stack overflowed, memory ran out,
 *             or (for subprocess cases) the process hung past its limit or died on a signal.
 */
export type Outcome = 'named' | 'unclear' | 'silent' | 'crash';

export interface MisuseCase {
  /** What the user did, as a test title: `"tensor: strings in the data"`. */
  name: string;
  /** The misuse itself. A returned promise is awaited. */
  run: () => unknown;
  /** Fragments the error message must contain (strings match case-sensitively, or RegExps). */
  expect: readonly (string | RegExp)[];
}

export interface Classified {
  outcome: Outcome;
  message: string;
}

const CRASH_PATTERNS = [/Maximum call stack size exceeded/, /out of memory/i, /Array buffer allocation failed/];

/** Classifies an error (or its absence) against the fragments a case expects. */
export function classifyError(error: unknown, fragments: readonly (string | RegExp)[]): Classified {
  if (error === undefined) return { outcome: 'silent', message: '' };
  if (!(error instanceof Error)) return { outcome: 'crash', message: String(error) };
  const message = error.message;
  if (CRASH_PATTERNS.some((p) => p.test(message))) return { outcome: 'crash', message };
  const missing = fragments.filter((f) => (typeof f === 'string' ? !message.includes(f) : !f.test(message)));
  return { outcome: missing.length === 0 ? 'named' : 'unclear', message };
}

/** Runs one case and classifies what happened. */
export async function classify(c: MisuseCase): Promise<Classified> {
  try {
    await c.run();
  } catch (error) {
    return classifyError(error ?? new Error('undefined was thrown'), c.expect);
  }
  return { outcome: 'silent', message: '' };
}

/**
 * Registers one test per case (each must end `named`) and a last test that prints the
 * counts per class for this table, the figures the misuse suite reports.
 */
export function runMisuseSuite(table: string, cases: readonly MisuseCase[]): void {
  const counts: Record<Outcome, number> = { named: 0, unclear: 0, silent: 0, crash: 0 };
  for (const c of cases) {
    test(c.name, async () => {
      const { outcome, message } = await classify(c);
      counts[outcome]++;
      expect({ outcome, message }, `expected an error containing ${c.expect.map(String).join(', ')}; got ${outcome}: ${message}`).toMatchObject({ outcome: 'named' });
    });
  }
  test(`${table}: counts per outcome`, () => {
    const total = counts.named + counts.unclear + counts.silent + counts.crash;
    console.log(`misuse ${table}: ${total} cases, named ${counts.named}, unclear ${counts.unclear}, silent ${counts.silent}, crash ${counts.crash}`);
    expect(total).toBe(cases.length);
  });
}
