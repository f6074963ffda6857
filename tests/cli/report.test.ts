import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, expect, test } from 'vitest';
import { launchChromium } from '../setup/chromium.js';
import { buildCli, root, seqgrad, tmp } from './helpers.js';

const artifacts = join(root, 'test-artifacts');

beforeAll(() => buildCli(), 300_000);

test('experiment: tiny run prints a results table and writes one self-contained report whose every plot renders in chromium', async () => {
  const out = join(artifacts, 'cli-report');
  rmSync(out, { recursive: true, force: true });
  const r = await seqgrad([
    'experiment', '--steps', '6', '--hidden', '4', '--batch', '4', '--seq-len', '6', '--delay', '2', '--flow-every', '3', '--jobs', '2', '--progress', 'lines', '--out', out,
  ]);
  expect(r.code, r.stderr).toBe(0);
  // 3 tasks × 3 cells × (no clipping, clip 1) = 18 rows, plus header and rule.
  const table = r.stdout.split('\n\n')[0]!.split('\n');
  expect(table).toHaveLength(20);
  expect(table[0]).toMatch(/^task\s+cell\s+clipping\s+params\s+final loss\s+accuracy/);
  expect(r.stdout).toContain(`report: ${join(out, 'report.html')}`);
  expect(r.stderr).toMatch(/\[adding rnn · no clipping\] step 6\/6/);

  const html = readFileSync(join(out, 'report.html'), 'utf8');
  expect(html).not.toMatch(/<script|<link|src="http|href="http/);
  const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
  expect(results.runs).toHaveLength(18);
  expect(results.runs[0].flow.length).toBe(3 * 6); // steps 0, 3, 6 × T = 6
  // `seqgrad report` renders the same report again from results.json.
  const again = await seqgrad(['report', join(out, 'results.json'), '--out', join(out, 'again')]);
  expect(again.code, again.stderr).toBe(0);
  expect(readFileSync(join(out, 'again', 'report.html'), 'utf8').length).toBeGreaterThan(html.length * 0.9);

  const browser = await launchChromium({ width: 1300, height: 900 });
  try {
    const page = await browser.context.newPage();
    const external: string[] = [];
    page.on('request', (req) => {
      if (!req.url().startsWith('file:') && !req.url().startsWith('data:')) external.push(req.url());
    });
    await page.goto(pathToFileURL(join(out, 'report.html')).href);
    const plots = await page.$$eval('figure.plot', (figs) =>
      figs.map((f) => {
        const svg = f.querySelector('svg');
        const box = svg?.getBoundingClientRect();
        const drawn = (sel: string) => [...f.querySelectorAll(sel)].filter((p) => (p.getAttribute('d') ?? '').length > 10).length;
        return { id: f.getAttribute('data-plot'), width: box?.width ?? 0, height: box?.height ?? 0, lines: drawn('g.mark-line path'), rects: drawn('g.mark-rect path') };
      }),
    );
    expect(plots.map((p) => p.id)).toEqual(['loss', 'accuracy', 'gradnorm', 'flow']);
    for (const p of plots) {
      expect(p.width, p.id!).toBeGreaterThan(200);
      expect(p.height, p.id!).toBeGreaterThan(100);
    }
    // One line per run in each curve plot (18 runs), one rect per (run, step, t) in the heatmap.
    for (const p of plots.slice(0, 3)) expect(p.lines, p.id!).toBeGreaterThanOrEqual(18);
    expect(plots[3]!.rects).toBeGreaterThanOrEqual(18 * 3 * 6);
    expect(external).toEqual([]);
    mkdirSync(artifacts, { recursive: true });
    await page.screenshot({ path: join(artifacts, 'cli-report.png'), fullPage: true });
  } finally {
    await browser.close();
  }
});
