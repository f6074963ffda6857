import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, expect, test } from 'vitest';
import { EMBEDDED_TEXT, FIXED_SIZES, STUDIES, Trainer, loadCellFactory, studyCellPaths, vocabularyOf } from 'seqgrad';
import { bin, buildCli, root, tmp } from './helpers.js';

/**
 * docs/lstm-variants.md quotes the tables of the default study (`seqgrad report results.json
 * --markdown`), one per seed. These tests check that every row is there with the parameter count
 * of its model, and run two rows of the seed-0 table again, which must reproduce every figure
 * but the machine-dependent steps/s and time.
 */
beforeAll(() => buildCli(), 300_000);

const doc = readFileSync(join(root, 'docs/lstm-variants.md'), 'utf8');
const study = STUDIES['lstm-variants'];

/** The quoted table after the line `<!-- study table: seed N -->`, rows keyed by "task cell". */
function docTable(seed: number): Map<string, string[]> {
  const marker = `<!-- study table: seed ${seed} -->\n`;
  const at = doc.indexOf(marker);
  expect(at, marker).toBeGreaterThanOrEqual(0);
  const lines = doc.slice(at + marker.length).split('\n');
  const rows = lines.slice(0, lines.findIndex((l) => !l.startsWith('|'))).filter((l) => !l.startsWith('| task') && !l.startsWith('| ---'));
  return new Map(rows.map((l) => l.slice(2, -2).split(' | ')).map((cells) => [cells.slice(0, 2).join(' '), cells]));
}

test('docs/lstm-variants.md: each study table has every variant on both tasks with its model\'s parameter count', async () => {
  const paths = studyCellPaths('lstm-variants', null);
  for (const seed of [0, 1]) {
    const table = docTable(seed);
    expect(table.size).toBe(study.variants.length * study.tasks.length);
    for (const task of study.tasks) {
      for (const [k, variant] of study.variants.entries()) {
        const custom = await loadCellFactory(paths[k]!);
        const trainer = Trainer.create({
          task, cell: variant, cellSha256: custom.sha256, hidden: study.hidden, layers: 1, bidirectional: false, steps: study.steps[task], batch: 32, lr: 0.02,
          clip: 1, seed, seqLen: study.seqLen[task], delay: 5, ...FIXED_SIZES, text: '', vocab: task === 'charlm' ? vocabularyOf(EMBEDDED_TEXT) : undefined,
        }, undefined, custom.factory);
        const row = table.get(`${task} ${variant}`);
        expect(row?.slice(2, 4), `seed ${seed}: ${task} ${variant}`).toEqual(['clip 1', String(trainer.model.numParameters())]);
      }
    }
  }
});

test('docs/lstm-variants.md: the charlm rows of vanilla and nfg (seed 0) are what the study computes today', () => {
  const out = join(tmp(), 'study-docs');
  const r = spawnSync(process.execPath, [bin, 'experiment', '--study', 'lstm-variants', '--tasks', 'charlm', '--variants', 'vanilla,nfg', '--progress', 'none', '--out', out], { cwd: root, encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  const md = spawnSync(process.execPath, [bin, 'report', join(out, 'results.json'), '--markdown'], { cwd: root, encoding: 'utf8' });
  const fresh = md.stdout.split('\n').filter((l) => l.startsWith('| charlm'));
  expect(fresh).toHaveLength(2);
  const table = docTable(0);
  // Every column but steps/s and time (columns 7 and 8), which depend on the machine's load.
  const fixed = (c: string[] | undefined) => c && [...c.slice(0, 7), c[9]];
  for (const line of fresh) {
    const cells = line.slice(2, -2).split(' | ');
    expect(fixed(table.get(cells.slice(0, 2).join(' '))), line).toEqual(fixed(cells));
  }
}, 120_000);
