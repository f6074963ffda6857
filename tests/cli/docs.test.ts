import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { beforeAll, expect, test } from 'vitest';
import { buildCli, root, tmp } from './helpers.js';

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

/** The rows of docs/cli.md's results table, by "task cell clipping". */
function docTable(): Map<string, string[]> {
  const section = doc.slice(doc.indexOf('### Results of the default run'), doc.indexOf('What it shows:'));
  const rows = section.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| task') && !l.startsWith('| ---'));
  return new Map(rows.map((l) => l.slice(2, -2).split(' | ')).map((cells) => [cells.slice(0, 3).join(' '), cells]));
}

test('docs/cli.md: the results table has every default run, with the parameter counts of the models', async () => {
  const { Trainer } = await import('../../packages/cli/src/trainer.js');
  const { FIXED_SIZES } = await import('../../packages/cli/src/trainer.js');
  const { TASK_DEFAULTS, vocabularyOf } = await import('../../packages/cli/src/tasks.js');
  const { EMBEDDED_TEXT } = await import('../../packages/cli/src/text.js');
  const table = docTable();
  expect(table.size).toBe(18);
  for (const task of ['adding', 'echo', 'charlm'] as const) {
    for (const cell of ['rnn', 'lstm', 'gru']) {
      const trainer = Trainer.create({
        task, cell, hidden: 32, layers: 1, bidirectional: false, steps: TASK_DEFAULTS[task].steps, batch: 32, lr: 0.02, clip: null, seed: 0,
        seqLen: TASK_DEFAULTS[task].seqLen, delay: 5, ...FIXED_SIZES, text: '', vocab: task === 'charlm' ? vocabularyOf(EMBEDDED_TEXT) : undefined,
      });
      for (const clip of ['no clipping', 'clip 1']) expect(table.get(`${task} ${cell} ${clip}`)?.[3], `${task} ${cell} ${clip}`).toBe(String(trainer.model.numParameters()));
    }
  }
});

test('docs/cli.md: the echo rows of rnn and gru are what the code computes today', async () => {
  const out = join(tmp(), 'echo');
  const r = spawnSync(process.execPath, [join(root, 'packages/cli/dist/cli.js'), 'experiment', '--tasks', 'echo', '--cells', 'rnn,gru', '--jobs', '1', '--progress', 'none', '--out', out], { cwd: root, encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  const md = spawnSync(process.execPath, [join(root, 'packages/cli/dist/cli.js'), 'report', join(out, 'results.json'), '--markdown'], { cwd: root, encoding: 'utf8' });
  const table = docTable();
  const fresh = md.stdout.split('\n').filter((l) => l.startsWith('| echo'));
  expect(fresh).toHaveLength(4);
  for (const line of fresh) {
    const cells = line.slice(2, -2).split(' | ');
    const documented = table.get(cells.slice(0, 3).join(' '));
    // Every column but steps/s and time (columns 7 and 8), which depend on the machine's load.
    const fixed = (c: string[] | undefined) => c && [...c.slice(0, 7), c[9]];
    expect(fixed(documented), line).toEqual(fixed(cells));
  }
}, 120_000);

test('docs/cli.md: the gradcheck outputs quoted are what seqgrad gradcheck prints', () => {
  const section = doc.slice(doc.indexOf('## `seqgrad gradcheck`'));
  const quoted = [...section.matchAll(/^```text\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
  expect(quoted.length).toBeGreaterThanOrEqual(2);
  const run = (cell: string) => spawnSync(process.execPath, [join(root, 'packages/cli/dist/cli.js'), 'gradcheck', '--cell', cell], { cwd: root, encoding: 'utf8' }).stdout;
  expect(quoted[0]).toBe(run('lstm'));
  // The planted bug's block quotes the lines after the first (which names the file).
  const buggy = run('tests/cli/fixtures/buggy-lstm-cell.mjs').split('\n').slice(1).join('\n');
  expect(quoted[1]).toBe(buggy);
});
