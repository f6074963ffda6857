/**
 * Memory-light BPTT: one training step (forward, loss, backward) of an LSTM run by scan with
 * plain BPTT and with `checkpoint`, each variant in its own child process so that its peak
 * resident memory (the process's maxRSS) is its own. Reports the peak RSS, the RSS growth
 * during the step over the process's RSS before it, and the median step's CPU time (user +
 * system, and the system part alone: page faults of fresh memory) and wall time.
 *
 *   npx tsc -b bench && node --expose-gc bench/dist/checkpoint.js [--T 10000] [--B 16] [--H 256] [--I 64] [--steps 2] [--k 0,100]
 *
 * `--k` lists the variants: 0 is plain BPTT, a number k checkpoints every k steps, `sqrt` every ⌈√T⌉.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Generator, randn, sum } from '@seqgrad/autograd';
import { LSTMCell, Recurrent } from '@seqgrad/layers';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
}

const T = Number(arg('T', '10000'));
const B = Number(arg('B', '16'));
const H = Number(arg('H', '256'));
const I = Number(arg('I', '64'));
const steps = Number(arg('steps', '2'));

interface Report { k: string; peakMB: number; growthMB: number; baseMB: number; msPerStep: number; sysMs: number; wallMs: number }

function child(k: string): void {
  const checkpoint = k === '0' ? false : k === 'sqrt' ? true : Number(k);
  const gen = new Generator(0);
  const layer = new Recurrent(new LSTMCell(I, H, { generator: gen }), { checkpoint });
  const x = randn([B, T, I], { generator: gen });
  // Compile the plan on a short sequence, so the measured step does not trace.
  sum(layer.forward(randn([B, 4, I], { generator: gen })).output).backward();
  layer.zeroGrad();
  (globalThis as { gc?: () => void }).gc?.();
  const base = process.memoryUsage().rss;
  const runs: { cpu: number; sys: number; wall: number }[] = [];
  for (let s = 0; s < steps; s++) {
    const c0 = process.cpuUsage();
    const w0 = performance.now();
    const { output } = layer.forward(x);
    sum(output).backward();
    const c = process.cpuUsage(c0);
    runs.push({ cpu: (c.user + c.system) / 1000, sys: c.system / 1000, wall: performance.now() - w0 });
    layer.zeroGrad();
  }
  runs.sort((a, b) => a.cpu - b.cpu);
  const mid = runs[Math.floor(runs.length / 2)]!;
  const peak = process.resourceUsage().maxRSS * 1024;
  const r: Report = { k, peakMB: peak / 2 ** 20, growthMB: (peak - base) / 2 ** 20, baseMB: base / 2 ** 20, msPerStep: mid.cpu, sysMs: mid.sys, wallMs: mid.wall };
  process.stdout.write(`${JSON.stringify(r)}\n`);
}

function main(): void {
  const which = process.argv.indexOf('--child');
  if (which >= 0) return child(process.argv[which + 1]!);
  const variants = arg('k', '0,sqrt').split(',');
  const self = fileURLToPath(import.meta.url);
  console.log(`LSTM B=${B} I=${I} H=${H} T=${T}, float32, ${steps} training step(s) per variant, each in its own process`);
  const rows: Report[] = [];
  for (const k of variants) {
    const out = spawnSync(process.execPath, ['--expose-gc', self, ...process.argv.slice(2), '--child', k], { encoding: 'utf8', maxBuffer: 1 << 20 });
    if (out.status !== 0) throw new Error(`variant k=${k} failed: ${out.stderr}`);
    rows.push(JSON.parse(out.stdout.trim().split('\n').pop()!) as Report);
  }
  const plain = rows.find((r) => r.k === '0');
  console.log('variant        peak RSS MB   growth MB   CPU ms/step  (of it system)  wall ms   peak/plain  growth/plain  CPU time/plain');
  for (const r of rows) {
    const name = r.k === '0' ? 'plain BPTT' : r.k === 'sqrt' ? `checkpoint √T` : `checkpoint ${r.k}`;
    const rel = (a: number, b: number | undefined) => (b ? (a / b).toFixed(2) : '-');
    console.log(
      `${name.padEnd(14)} ${r.peakMB.toFixed(0).padStart(11)} ${r.growthMB.toFixed(0).padStart(11)} ${r.msPerStep.toFixed(0).padStart(13)}` +
        ` ${r.sysMs.toFixed(0).padStart(15)} ${r.wallMs.toFixed(0).padStart(8)}` +
        `   ${rel(r.peakMB, plain?.peakMB).padStart(10)} ${rel(r.growthMB, plain?.growthMB).padStart(13)} ${rel(r.msPerStep, plain?.msPerStep).padStart(15)}`,
    );
  }
}

main();
