import { describe, expect, test } from 'vitest';
import { benchMarkdown, runBench, type Peer } from '../rnn.js';
import { matmulMarkdown, runMatmul } from '../matmul.js';

// The CI smoke run of the benchmark harness: tiny sizes, timings printed, never asserted.
describe('bench', () => {
  test('runBench: quick mode times every layer, mode and peer and gives well-formed rows', async () => {
    const peers: Peer[] = ['fused', 'composed', 'tfjs-wasm', 'tfjs-cpu'];
    const rows = await runBench({ quick: true, peers });
    expect(rows).toHaveLength(3 * 2 * peers.length);
    for (const r of rows) {
      expect(r.status, `${r.layer} ${r.mode} ${r.peer}: ${r.note ?? ''}`).toBe('ok');
      expect(r.medianMs).toBeGreaterThan(0);
      expect(Number.isFinite(r.gflops)).toBe(true);
      expect(r.runs).toBeGreaterThanOrEqual(2);
      expect(r.peakRssMB).toBeGreaterThan(0);
    }
    const md = benchMarkdown(rows, 'quick');
    console.log(md);
    expect(md).toContain('| LSTM | Q |');
    expect(md).toContain('TF.js wasm / fused');
  });

  test('runMatmul: GFLOP/s for every kernel column at a small size', async () => {
    const { columns, rows } = await runMatmul([64], 20);
    expect(rows).toHaveLength(1);
    for (const c of columns) expect(rows[0]!.gflops[c]).toBeGreaterThan(0);
    expect(matmulMarkdown(columns, rows)).toContain('| 64 |');
  });
});
