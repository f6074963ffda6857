import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, test } from 'vitest';

/**
 * No test without an assertion: every `test(...)`/`it(...)` body (also `.each`, `.prop`, `.skipIf`
 * and the like) must call `expect`/`assert` (fast-check's `fc.assert` included), throw, or call a
 * function declared in the test sources that does, directly or through other such functions.
 * Functions are matched by name across all the files scanned, so a helper in a shared file counts.
 */
const root = fileURLToPath(new URL('../..', import.meta.url));
const TEST_DIRS = ['tests', 'packages', 'bench/test', 'apps/playground/test'];
const ASSERTING_CALL = /^(expect|assert|fc\.assert|expectTypeOf|assertType)\b/;
const TEST_CALLEE = /^(test|it)(\.(only|skip|concurrent|sequential|fails|todo|(skipIf|runIf|each|prop|for)\(.*\)))*$/s;

function testSources(): ts.SourceFile[] {
  const files: string[] = [];
  const walk = (dir: string, inTests: boolean): void => {
    for (const name of readdirSync(dir)) {
      if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
      const path = join(dir, name);
      // Under packages/, only each package's test/ directory holds tests.
      const tests = inTests || name === 'test';
      if (statSync(path).isDirectory()) walk(path, tests);
      else if (tests && /\.(ts|mts|js|mjs)$/.test(name)) files.push(path);
    }
  };
  for (const dir of TEST_DIRS) {
    const path = join(root, dir);
    try {
      statSync(path);
    } catch {
      continue;
    }
    walk(path, dir !== 'packages');
  }
  return files.map((f) => ts.createSourceFile(relative(root, f), readFileSync(f, 'utf8'), ts.ScriptTarget.Latest, true));
}

/** Whether `node` asserts by itself; the names of the functions it calls go into `calls`. */
function assertsDirectly(node: ts.Node, calls: Set<string>): boolean {
  let found = false;
  const visit = (n: ts.Node): void => {
    if (found) return;
    if (ts.isThrowStatement(n)) found = true;
    else if (ts.isCallExpression(n)) {
      const callee = n.expression.getText();
      if (ASSERTING_CALL.test(callee)) found = true;
      else calls.add(callee.split('.').pop()!);
    }
    if (!found) ts.forEachChild(n, visit);
  };
  visit(node);
  return found;
}

/** "file:line: title" of every test body in `sources` that shows no assertion. */
export function testsWithoutAssertion(sources: ts.SourceFile[]): string[] {
  // Named functions of all files, and which of them assert (to a fixed point through their calls).
  const calledBy = new Map<string, Set<string>>();
  const asserting = new Set<string>();
  for (const sf of sources) {
    const visit = (n: ts.Node): void => {
      let name: string | undefined;
      let body: ts.Node | undefined;
      if ((ts.isFunctionDeclaration(n) || ts.isMethodDeclaration(n)) && n.name && ts.isIdentifier(n.name)) [name, body] = [n.name.text, n];
      else if (ts.isVariableDeclaration(n) && ts.isIdentifier(n.name) && n.initializer && (ts.isArrowFunction(n.initializer) || ts.isFunctionExpression(n.initializer))) {
        [name, body] = [n.name.text, n.initializer];
      }
      if (name && body) {
        const calls = calledBy.get(name) ?? new Set<string>();
        calledBy.set(name, calls);
        if (assertsDirectly(body, calls)) asserting.add(name);
      }
      ts.forEachChild(n, visit);
    };
    visit(sf);
  }
  for (let changed = true; changed; ) {
    changed = false;
    for (const [name, calls] of calledBy) {
      if (!asserting.has(name) && [...calls].some((c) => asserting.has(c))) {
        asserting.add(name);
        changed = true;
      }
    }
  }
  const missing: string[] = [];
  for (const sf of sources) {
    const visit = (n: ts.Node): void => {
      if (ts.isCallExpression(n) && TEST_CALLEE.test(n.expression.getText()) && n.arguments.length >= 2) {
        const body = n.arguments.find((a) => ts.isArrowFunction(a) || ts.isFunctionExpression(a));
        const calls = new Set<string>();
        if (body && !assertsDirectly(body, calls) && ![...calls].some((c) => asserting.has(c))) {
          missing.push(`${sf.fileName}:${sf.getLineAndCharacterOfPosition(n.getStart()).line + 1}: ${n.arguments[0]!.getText()}`);
        }
      }
      ts.forEachChild(n, visit);
    };
    visit(sf);
  }
  return missing;
}

describe('test bodies', () => {
  test('testsWithoutAssertion: finds a body that only prints, and accepts expect, throw, fc.assert and asserting helpers', () => {
    const source = ts.createSourceFile(
      'example.test.ts',
      `
      const near = (a: number, b: number) => expect(a).toBeCloseTo(b);
      function viaHelper(x: number) { near(x, 1); }
      test('prints', () => { console.log(1 + 1); });
      test.each([1])('each prints %i', (v) => { console.log(v); });
      test('expects', () => { expect(1).toBe(1); });
      test('throws', () => { if (Math.sqrt(4) !== 2) throw new Error('sqrt'); });
      test('fast-check', () => { fc.assert(fc.property(fc.nat(), (n) => n >= 0)); });
      test('through two helpers', () => { viaHelper(1); });
      `,
      ts.ScriptTarget.Latest,
      true,
    );
    expect(testsWithoutAssertion([source])).toEqual(["example.test.ts:4: 'prints'", "example.test.ts:5: 'each prints %i'"]);
  });

  test('tests: every test body in the repository asserts', () => {
    const sources = testSources();
    expect(sources.length).toBeGreaterThan(50);
    expect(testsWithoutAssertion(sources)).toEqual([]);
  });
});
