import { beforeEach, expect } from 'vitest';

/**
 * `SEQGRAD_REQUIRE_ASSERTIONS=1 npx vitest run` fails every test that made no `expect` call:
 * the run-time side of tests/setup/assertions.test.ts, which reads the sources and cannot see
 * a loop of assertions that ran zero times. Off by default, because a fast-check property whose
 * predicate returns a boolean asserts through `fc.assert`, which makes no `expect` call.
 */
if (process.env.SEQGRAD_REQUIRE_ASSERTIONS) {
  beforeEach(() => {
    expect.hasAssertions();
  });
}
