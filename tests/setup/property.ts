import fc from 'fast-check';

/**
 * The one place that sets how many cases every property test runs.
 * CI uses the default; `SEQGRAD_PROP_RUNS=500 pnpm test` is the long run.
 */
export const NUM_RUNS = Number(process.env.SEQGRAD_PROP_RUNS ?? 20);
if (!Number.isInteger(NUM_RUNS) || NUM_RUNS < 1) {
  throw new Error(`SEQGRAD_PROP_RUNS must be a positive integer, got ${process.env.SEQGRAD_PROP_RUNS}`);
}

fc.configureGlobal({ numRuns: NUM_RUNS, interruptAfterTimeLimit: 60_000 });
