import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, expect, test } from 'vitest';
import { STUDIES, studyCellPaths } from 'seqgrad';
import { buildCli, root, seqgrad, tmp } from './helpers.js';

// The study runs as the built bin does, at tiny sizes (a handful of steps, 4 units).
beforeAll(() => buildCli(), 300_000);

const VARIANTS = ['vanilla', 'nig', 'nfg', 'nog', 'niaf', 'noaf', 'np', 'cifg', 'fgr'];
const tiny = ['--steps', '3', '--hidden', '4', '--batch', '4', '--seq-len', '5', '--flow-every', '3', '--jobs', '2', '--progress', 'none'];

/** The expected one-line refusal: status 1, one line on stderr naming the problem. */
function expectRefusal(r: { code: number | null; stderr: string }, pattern: RegExp): void {
  expect(r.code).toBe(1);
  expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(pattern);
}

test('experiment --study lstm-variants: trains all nine variants on both tasks, prints every one and writes a report naming them', async () => {
  expect(STUDIES['lstm-variants'].variants).toEqual(VARIANTS);
  const out = join(tmp(), 'study');
  const r = await seqgrad(['experiment', '--study', 'lstm-variants', ...tiny, '--out', out]);
  expect(r.code, r.stderr).toBe(0);
  expect(r.stderr).toContain('experiment: 18 runs (adding, charlm × vanilla, nig, nfg, nog, niaf, noaf, np, cifg, fgr × clip 1)');
  const rows = r.stdout.split('\n\n')[0]!.split('\n').slice(2).map((l) => l.split(/\s{2,}/));
  expect(rows.map((c) => `${c[0]} ${c[1]} ${c[2]}`)).toEqual(['adding', 'charlm'].flatMap((t) => VARIANTS.map((v) => `${t} ${v} clip 1`)));

  // The parameter counts are the variants' own: three gates' weights for NIG, NFG, NOG and
  // CIFG, the (3H, 3H) gate recurrence on top for FGR, one bias and no peepholes for NP.
  const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
  const params = (task: string, cell: string) => results.runs.find((x: { task: string; cell: string }) => x.task === task && x.cell === cell).parameters;
  const H = 4;
  const head = 1 * H + 1; // adding: Linear(H, 1)
  const lstm = (gates: number, peepholes: number) => gates * H * (2 + H + 1) + peepholes * H + head;
  expect(VARIANTS.map((v) => params('adding', v))).toEqual([
    lstm(4, 3), lstm(3, 2), lstm(3, 2), lstm(3, 2), lstm(4, 3), lstm(4, 3), lstm(4, 0), lstm(3, 2), lstm(4, 3) + 3 * H * 3 * H,
  ]);
  for (const run of results.runs) expect(Number.isFinite(run.finalLoss), `${run.task} ${run.cell}`).toBe(true);
  expect(results.settings.study).toBe('lstm-variants');

  const html = readFileSync(join(out, 'report.html'), 'utf8');
  expect(html).toContain('<title>seqgrad experiment --study lstm-variants: the LSTM variants of Greff et al. (2017)</title>');
  // Every variant is a row of the table and an entry of the loss plot's legend.
  for (const v of VARIANTS) {
    expect(html).toContain(`<td>adding</td><td>${v}</td>`);
    expect(html).toContain(`<td>charlm</td><td>${v}</td>`);
    expect(html, v).toMatch(new RegExp(`cell: ${v};`));
  }
  // `seqgrad report` renders it again with the study's title.
  const again = await seqgrad(['report', join(out, 'results.json'), '--out', join(out, 'again')]);
  expect(again.code, again.stderr).toBe(0);
  expect(readFileSync(join(out, 'again', 'report.html'), 'utf8')).toContain('<title>seqgrad experiment --study lstm-variants');
}, 120_000);

test('experiment --study: --variants picks some of the cells and the flags given override the preset', async () => {
  const out = join(tmp(), 'two');
  const r = await seqgrad(['experiment', '--study', 'lstm-variants', '--variants', 'cifg,nfg', '--tasks', 'adding', '--clip', 'none', ...tiny, '--jobs', '1', '--out', out]);
  expect(r.code, r.stderr).toBe(0);
  const rows = r.stdout.split('\n\n')[0]!.split('\n').slice(2);
  expect(rows.map((l) => l.split(/\s{2,}/).slice(0, 3).join(' '))).toEqual(['adding cifg no clipping', 'adding nfg no clipping']);
  const settings = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')).settings;
  expect(settings).toMatchObject({ steps: 'adding 3', 'sequence length': 'adding 5', hidden: 4 });
});

test('experiment --study: contradicting or unknown choices are refused in one line', async () => {
  expectRefusal(await seqgrad(['experiment', '--study', 'lstm-variants', '--cells', 'lstm']), /--cells: the study lstm-variants sets the cells; choose some of them with --variants/);
  expectRefusal(await seqgrad(['experiment', '--variants', 'cifg']), /--variants picks cells of a study: give --study too/);
  expectRefusal(await seqgrad(['experiment', '--study', 'lstm-variants', '--variants', 'cifg,lstm']), /--variants: 'lstm' is not a variant of the study lstm-variants \(choose from vanilla, nig/);
  expectRefusal(await seqgrad(['experiment', '--study', 'odyssey']), /unknown study 'odyssey' \(choose from lstm-variants\)/);
});

test('studyCellPaths: resolves the cells in the repository and names the file missing from a tree without examples/', () => {
  expect(studyCellPaths('lstm-variants', ['vanilla', 'fgr'])).toEqual(['vanilla', 'fgr'].map((v) => join(root, 'examples/cells/lstm-variants', `${v}.mjs`)));
  const elsewhere = tmp();
  mkdirSync(join(elsewhere, 'examples'));
  expect(() => studyCellPaths('lstm-variants', null, elsewhere)).toThrow(
    `--study lstm-variants: ${join(elsewhere, 'examples/cells/lstm-variants/vanilla.mjs')} is missing; the study's cells are read from examples/cells/lstm-variants/ of the seqgrad repository`,
  );
});
