import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { beforeAll, expect, test } from 'vitest';
import { buildCli, root } from './helpers.js';

/**
 * Runs the code blocks of docs/cli.md in order: a ```js block whose first line is a comment
 * naming an absolute path is saved there; every line of a ```bash block is run from the
 * repository root and must succeed (python3 lines only where torch is installed).
 */
const doc = readFileSync(join(root, 'docs/cli.md'), 'utf8');
const blocks = [...doc.matchAll(/^```(\w+)\n([\s\S]*?)^```$/gm)].map((m) => ({ lang: m[1]!, code: m[2]! }));
// Build under the shared lock first, so the docs' own `tsc -b` finds nothing to do while
// another test file may be building.
beforeAll(() => buildCli(), 300_000);

const hasTorch = spawnSync('/usr/bin/python3', ['-c', 'import torch, numpy'], { encoding: 'utf8' }).status === 0;

test('docs/cli.md: every shell command and the custom cell example run', () => {
  rmSync('/tmp/seqgrad-docs', { recursive: true, force: true });
  let ran = 0;
  for (const b of blocks) {
    if (b.lang === 'js') {
      const path = /^\/\/ (\/\S+?):/.exec(b.code)?.[1];
      expect(path, 'a js block starts with // /absolute/path:').toBeTruthy();
      mkdirSync(dirname(path!), { recursive: true });
      writeFileSync(path!, b.code);
    } else if (b.lang === 'bash') {
      for (const line of b.code.split('\n').filter((l) => l.trim())) {
        if (line.includes('python3') && !hasTorch) continue;
        const r = spawnSync('sh', ['-c', line], { cwd: root, encoding: 'utf8' });
        expect(r.status, `${line}\n${r.stdout}\n${r.stderr}`).toBe(0);
        ran++;
      }
    }
  }
  expect(ran).toBeGreaterThanOrEqual(6);
}, 120_000);
