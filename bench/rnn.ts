/**
 * `pnpm bench`: training step and forward pass of single-layer LSTM, GRU and tanh RNN at sizes
 * S, M, L (float32) for seqgrad impl 'fused' and 'composed' and TensorFlow.js 4.22 (wasm and
 * cpu backends), alternating in one process, median of at least 5 timed steps after a warm-up.
 * Writes bench/results/latest.md and latest.json (quick.md and quick.json with --quick).
 * The peers take turns in rounds; in each round a peer runs untimed steps (settle), then a timed
 * block of steps, with no forced GC: a step costs what it costs in a training loop, including
 * the collections V8 runs on its own, whose time is recorded alongside (PerformanceObserver 'gc').
 *
 *   node dist/rnn.js [--quick] [--torch] [--torch2] [--threads N] [--sizes S,M] [--layers LSTM,GRU] [--modes train]
 *                    [--peers fused,composed,tfjs-wasm,tfjs-cpu] [--clock wall|cpu] [--out DIR]
 *
 * --soak [N] instead runs N (default 1000) fused training steps (LSTM at S unless --layers/--sizes
 * say otherwise) and reports RSS along the way (results/soak.md); run node with --expose-gc.
 *
 * --clock cpu puts the median CPU time per step (user + system of the process) in the tables
 * instead of wall-clock time; latest.json always has both. On a machine shared with other
 * work, CPU time is the steadier measure of what a step costs.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { kernels } from '@seqgrad/autograd';
import { machine } from './src/machine.js';
import { type Runner, seqgradRunner } from './src/seqgradRunner.js';
import { tfRunner } from './src/tfRunner.js';
import { median } from './src/timing.js';
import { type Dims, type LayerKind, type Mode, QUICK_SIZES, SIZES, flops } from './src/workloads.js';

export type Peer = 'fused' | 'fused-ts' | 'composed' | 'tfjs-wasm' | 'tfjs-cpu' | 'torch' | 'torch2';
export const PEER_NAMES: Record<Peer, string> = {
  fused: 'seqgrad fused',
  'fused-ts': 'seqgrad fused, TypeScript gates',
  composed: 'seqgrad composed',
  'tfjs-wasm': 'TF.js wasm',
  'tfjs-cpu': 'TF.js cpu',
  torch: 'PyTorch 1 thread',
  torch2: 'PyTorch 2 threads',
};

export interface BenchRow {
  layer: LayerKind;
  size: string;
  dims: Dims;
  mode: Mode;
  peer: Peer;
  status: 'ok' | 'too slow' | 'error';
  /** Median over rounds of the wall-clock ms per step of a timed block (null unless status is ok). */
  medianMs: number | null;
  /** The same in CPU ms (user + system of the process running it): steadier on a shared machine. */
  medianCpuMs: number | null;
  /** Timed blocks (rounds) behind the medians. */
  runs: number;
  /** Timed steps in all. */
  steps: number;
  /** V8's collection time per timed step, ms, and collections per timed step (seqgrad and TF.js peers; null for PyTorch). */
  gcMsPerStep: number | null;
  gcPerStep: number | null;
  gflops: number | null;
  /** Largest RSS seen while this peer ran this workload, MB. */
  peakRssMB: number;
  note?: string;
}

export interface BenchOptions {
  quick?: boolean;
  sizes?: string[];
  layers?: LayerKind[];
  modes?: Mode[];
  peers?: Peer[];
  /** Minimum rounds (timed blocks) per peer (5 unless quick). */
  minRuns?: number;
  /** A peer (other than fused) whose step would take longer than this (CPU ms, estimated or measured) is not run. */
  tooSlowMs?: number;
  log?: (line: string) => void;
}

/** The PyTorch peer: one python process, a JSON line per request (see src/torch_rnn.py). */
class TorchPeer {
  private proc: ChildProcessWithoutNullStreams;
  private lines: AsyncIterator<string>;
  constructor(threads: number) {
    const script = fileURLToPath(new URL(import.meta.url.includes('/dist/') ? '../src/torch_rnn.py' : './src/torch_rnn.py', import.meta.url));
    this.proc = spawn('/usr/bin/python3', [script], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, OMP_NUM_THREADS: String(threads), OPENBLAS_NUM_THREADS: String(threads), TORCH_THREADS: String(threads) },
    });
    this.lines = createInterface({ input: this.proc.stdout })[Symbol.asyncIterator]();
  }
  static available(): boolean {
    return spawnSync('/usr/bin/python3', ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
  }
  async steps(layer: LayerKind, d: Dims, mode: Mode, steps: number): Promise<{ ms: number[]; cpuMs: number[] }> {
    this.proc.stdin.write(JSON.stringify({ layer, ...d, mode, steps }) + '\n');
    const { value, done } = await this.lines.next();
    if (done) throw new Error('PyTorch peer exited');
    return JSON.parse(value as string) as { ms: number[]; cpuMs: number[] };
  }
  close(): void {
    this.proc.stdin.end();
  }
}

interface Contender {
  peer: Peer;
  runner?: Runner & { activate?(): Promise<void> };
  /** Wall-clock and CPU ms per step of each timed block. */
  times: number[];
  cpuTimes: number[];
  /** CPU ms of the warm-up step. */
  warmMs: number;
  steps: number;
  /** performance.now() at the start and end of each timed block. */
  blocks: [number, number][];
  peakRss: number;
  status: BenchRow['status'];
  note?: string;
}

const rssMB = () => process.memoryUsage().rss / 2 ** 20;

/**
 * V8's collections as PerformanceObserver reports them (start in `performance.now()` time, and
 * duration, ms). Entries arrive asynchronously, when the event loop next runs timers: `flush()`
 * waits for that, so those of the steps run before it are in `entries`.
 */
class GcLog {
  readonly entries: { start: number; ms: number }[] = [];
  private obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) this.entries.push({ start: e.startTime, ms: e.duration });
  });
  constructor() {
    this.obs.observe({ entryTypes: ['gc'] });
  }
  async flush(): Promise<void> {
    await new Promise((r) => setTimeout(r, 20));
  }
  /** Number and total ms of the collections that started within [from, to]. */
  within(from: number, to: number): { count: number; ms: number } {
    let count = 0;
    let ms = 0;
    for (const e of this.entries) if (e.start >= from && e.start <= to) (count++, (ms += e.ms));
    return { count, ms };
  }
  close(): void {
    this.obs.disconnect();
  }
}

/**
 * Steps per timed block and untimed steps before it, from the CPU ms of one step: a block of
 * about 300 ms (3 to 20 steps) after about 100 ms of settling (at least 2 steps), so the
 * collections V8 schedules land in the blocks in their natural proportion, and whatever the
 * previous peer left for the collector is mostly paid before the block. Steps over a second
 * run one at a time without settling.
 */
/** Untimed steps a JavaScript peer runs before its first timed block, unless they take longer than WARM_MS. */
const WARM_STEPS = 50;
const WARM_MS = 3000;

export function blockPlan(stepMs: number, quick = false): { settle: number; timed: number } {
  if (quick) return { settle: 1, timed: 2 };
  if (stepMs >= 1000) return { settle: 0, timed: 1 };
  const ms = Math.max(stepMs, 0.05);
  return { settle: Math.max(2, Math.min(50, Math.ceil(100 / ms))), timed: Math.max(3, Math.min(20, Math.ceil(300 / ms))) };
}

export async function runBench(opts: BenchOptions = {}): Promise<BenchRow[]> {
  const quick = opts.quick ?? false;
  const sizeTable = quick ? QUICK_SIZES : SIZES;
  const sizes = opts.sizes ?? Object.keys(sizeTable);
  const layers = opts.layers ?? ['LSTM', 'GRU', 'RNN'];
  const modes = opts.modes ?? ['train', 'forward'];
  const peers = opts.peers ?? ['fused', 'composed', 'tfjs-wasm', 'tfjs-cpu'];
  const minRuns = opts.minRuns ?? (quick ? 2 : 5);
  const tooSlowMs = opts.tooSlowMs ?? 20_000;
  const log = opts.log ?? (() => {});
  // PyTorch peers, each a python process: 'torch' on one thread, 'torch2' on two.
  const torchPeers = new Map<Peer, TorchPeer>();
  for (const [peer, threads] of [['torch', 1], ['torch2', 2]] as const) if (peers.includes(peer)) torchPeers.set(peer, new TorchPeer(threads));
  // ms per GFLOP of each (peer, layer, mode) at the last size run, to skip hopeless runs.
  const msPerGflop = new Map<string, number>();
  const rows: BenchRow[] = [];
  const gcLog = new GcLog();

  try {
    for (const size of sizes) {
      const d = sizeTable[size];
      if (!d) throw new Error(`unknown size ${size}: use ${Object.keys(sizeTable).join(', ')}`);
      for (const layer of layers) {
        for (const mode of modes) {
          const work = flops(layer, d, mode);
          const contenders: Contender[] = [];
          for (const peer of peers) {
            const c: Contender = { peer, times: [], cpuTimes: [], warmMs: 0, steps: 0, blocks: [], peakRss: rssMB(), status: 'ok' };
            contenders.push(c);
            // The fused layer is what is measured, so it always runs; peers are skipped by estimate.
            const rate = peer === 'fused' ? undefined : msPerGflop.get(`${peer}/${layer}/${mode}`);
            if (rate !== undefined && rate * work / 1e9 > tooSlowMs) {
              c.status = 'too slow';
              c.note = `estimated ${(rate * work / 1e12).toFixed(0)} s of CPU per step from the previous size`;
              continue;
            }
            try {
              if (peer === 'fused' || peer === 'composed') c.runner = seqgradRunner(layer, d, mode, peer);
              else if (peer === 'fused-ts') c.runner = seqgradRunner(layer, d, mode, 'fused', { wasmGates: false });
              else if (peer === 'tfjs-wasm' || peer === 'tfjs-cpu') c.runner = await tfRunner(peer === 'tfjs-wasm' ? 'wasm' : 'cpu', layer, d, mode);
              // Warm-up (for torch: one step in its own process), judged by CPU time, which
              // other work on the machine inflates less than wall-clock time.
              let warm: number;
              if (c.runner) {
                await c.runner.activate?.();
                const cpu0 = process.cpuUsage();
                c.runner.step();
                const cpu = process.cpuUsage(cpu0);
                warm = (cpu.user + cpu.system) / 1000;
              } else warm = (await torchPeers.get(peer)!.steps(layer, d, mode, 1)).cpuMs[0]!;
              c.warmMs = warm;
              if (warm > tooSlowMs && peer !== 'fused') {
                c.status = 'too slow';
                c.note = `warm-up step took ${(warm / 1000).toFixed(1)} s of CPU`;
                msPerGflop.set(`${peer}/${layer}/${mode}`, warm / (work / 1e9));
              }
            } catch (e) {
              c.status = 'error';
              c.note = (e as Error).message.split('\n')[0];
            }
          }
          // Warm-up of those that run, untimed: three settle phases, and for JavaScript peers at
          // least WARM_STEPS steps or WARM_MS of time, so the JIT has tiered up (the fused LSTM at
          // S reaches its steady step after some 35 steps; fewer left the first peer half-compiled).
          for (const c of contenders) {
            if (c.status !== 'ok') continue;
            const { settle } = blockPlan(c.warmMs, quick);
            try {
              if (c.runner) {
                await c.runner.activate?.();
                const t0 = performance.now();
                for (let i = 0; i < 3 * settle || (!quick && i < WARM_STEPS && performance.now() - t0 < WARM_MS); i++) c.runner.step();
              } else if (settle > 0) await torchPeers.get(c.peer)!.steps(layer, d, mode, 3 * settle);
            } catch (e) {
              c.status = 'error';
              c.note = (e as Error).message.split('\n')[0];
            }
          }
          // Rounds: a block of every contender per round, so drift hits all alike. No forced GC:
          // each block pays for the collections that fall in it, as a training loop would.
          const live = () => contenders.filter((c) => c.status === 'ok');
          const started = performance.now();
          for (let round = 0; ; round++) {
            const spent = performance.now() - started;
            if (round >= minRuns && (quick || spent > 2000 || round >= 15)) break;
            for (const c of live()) {
              const { settle, timed } = blockPlan(c.warmMs, quick);
              try {
                if (c.runner) {
                  await c.runner.activate?.();
                  for (let i = 0; i < settle; i++) c.runner.step();
                  const cpu0 = process.cpuUsage();
                  const t0 = performance.now();
                  for (let i = 0; i < timed; i++) c.runner.step();
                  const t1 = performance.now();
                  const cpu = process.cpuUsage(cpu0);
                  c.times.push((t1 - t0) / timed);
                  c.cpuTimes.push((cpu.user + cpu.system) / 1000 / timed);
                  c.blocks.push([t0, t1]);
                } else {
                  const torch = torchPeers.get(c.peer)!;
                  if (settle > 0) await torch.steps(layer, d, mode, settle);
                  const r = await torch.steps(layer, d, mode, timed);
                  c.times.push(r.ms.reduce((a, b) => a + b, 0) / timed);
                  c.cpuTimes.push(r.cpuMs.reduce((a, b) => a + b, 0) / timed);
                }
                c.steps += timed;
                c.peakRss = Math.max(c.peakRss, rssMB());
              } catch (e) {
                c.status = 'error';
                c.note = (e as Error).message.split('\n')[0];
              }
            }
            if (live().length === 0) break;
          }
          await gcLog.flush();
          for (const c of contenders) {
            c.runner?.dispose();
            const gc = c.blocks.map(([from, to]) => gcLog.within(from, to));
            const gcMs = gc.reduce((a, g) => a + g.ms, 0);
            const gcCount = gc.reduce((a, g) => a + g.count, 0);
            const ms = c.status === 'ok' ? median(c.times) : null;
            if (ms !== null) msPerGflop.set(`${c.peer}/${layer}/${mode}`, median(c.cpuTimes) / (work / 1e9));
            const row: BenchRow = {
              layer, size, dims: d, mode, peer: c.peer, status: c.status, medianMs: ms,
              medianCpuMs: ms === null ? null : median(c.cpuTimes), runs: c.times.length, steps: c.steps,
              gcMsPerStep: c.runner && c.steps > 0 ? gcMs / c.steps : null,
              gcPerStep: c.runner && c.steps > 0 ? gcCount / c.steps : null,
              gflops: ms === null ? null : work / (ms * 1e6), peakRssMB: Math.round(c.peakRss),
              ...(c.note ? { note: c.note } : {}),
            };
            rows.push(row);
            log(`${layer} ${size} ${mode} ${PEER_NAMES[c.peer]}: ${ms === null ? `${c.status}${c.note ? ` (${c.note})` : ''}` : `${ms.toFixed(1)} ms, ${row.gflops!.toFixed(2)} GFLOP/s`}`);
          }
        }
      }
    }
  } finally {
    for (const t of torchPeers.values()) t.close();
    gcLog.close();
  }
  return rows;
}

export type Clock = 'wall' | 'cpu';
const msOf = (r: BenchRow | undefined, clock: Clock) => (r ? (clock === 'cpu' ? r.medianCpuMs : r.medianMs) : null);

export interface SoakResult {
  layer: LayerKind;
  size: string;
  steps: number;
  every: number;
  /** RSS (MB) after each block of `every` steps, the first after the warm-up. */
  rssMB: number[];
  /** V8 heap in use (MB, after a GC when --expose-gc is on) at the same points. */
  heapMB: number[];
  /** Largest RSS of the second half of the samples over the largest of the first half, in percent. */
  growthPercent: number;
  medianMs: number;
}

/**
 * Target 4 of issue 7: RSS stays flat over many fused training steps. Runs `warmup` steps, then
 * `steps` more, sampling RSS and the V8 heap (after a GC when node runs with --expose-gc) every
 * `every` steps. RSS moves with the garbage collector, so growth compares the peaks of the two
 * halves of the run rather than two single samples.
 */
export function runSoak(layer: LayerKind = 'LSTM', size = 'S', steps = 1000, every = 100, warmup = 100): SoakResult {
  const d = SIZES[size] ?? QUICK_SIZES[size];
  if (!d) throw new Error(`unknown size ${size}`);
  const runner = seqgradRunner(layer, d, 'train', 'fused');
  const gc = (globalThis as { gc?: () => void }).gc;
  const rss: number[] = [];
  const heap: number[] = [];
  const sample = () => {
    gc?.();
    rss.push(Math.round(rssMB()));
    heap.push(Math.round(process.memoryUsage().heapUsed / 2 ** 20));
  };
  for (let i = 0; i < warmup; i++) runner.step();
  sample();
  const times: number[] = [];
  for (let i = 1; i <= steps; i++) {
    const t0 = performance.now();
    runner.step();
    times.push(performance.now() - t0);
    if (i % every === 0) sample();
  }
  const half = Math.ceil(rss.length / 2);
  const first = Math.max(...rss.slice(0, half));
  const second = Math.max(...rss.slice(half));
  return { layer, size, steps, every, rssMB: rss, heapMB: heap, growthPercent: (100 * (second - first)) / first, medianMs: median(times) };
}

function fmtMs(r: BenchRow | undefined, clock: Clock): string {
  if (!r) return '–';
  if (r.status !== 'ok') return r.status;
  const ms = msOf(r, clock)!;
  return ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2);
}

/** Markdown tables: ms per step for every peer, fused GFLOP/s, and the ratios that the targets name. */
export function benchMarkdown(rows: BenchRow[], header: string, clock: Clock = 'wall'): string {
  const peers = [...new Set(rows.map((r) => r.peer))];
  const out = [header, ''];
  for (const mode of ['train', 'forward'] as const) {
    const mine = rows.filter((r) => r.mode === mode);
    if (mine.length === 0) continue;
    out.push(`### ${mode === 'train' ? 'Training step (forward, sum, backward to weights and input)' : 'Forward only'}: ${clock === 'cpu' ? 'CPU' : 'wall-clock'} ms per step, median over rounds of timed blocks (no forced GC)`, '');
    const ratioPeers = peers.filter((p) => p !== 'fused');
    out.push(`| layer | size | ${peers.map((p) => PEER_NAMES[p]).join(' | ')} | fused GFLOP/s | ${ratioPeers.map((p) => `${PEER_NAMES[p]} / fused`).join(' | ')} | fused GC ms per step (collections per step) | fused peak RSS MB |`);
    out.push(`|---|---|${peers.map(() => '---:').join('|')}|---:|${ratioPeers.map(() => '---:').join('|')}|---:|---:|`);
    const keys = [...new Set(mine.map((r) => `${r.layer}|${r.size}`))];
    for (const key of keys) {
      const [layer, size] = key.split('|');
      const at = (p: Peer) => mine.find((r) => r.layer === layer && r.size === size && r.peer === p);
      const fused = at('fused');
      const fusedMs = msOf(fused, clock);
      const ratios = ratioPeers.map((p) => {
        const r = at(p);
        const ms = msOf(r, clock);
        return fusedMs && ms ? `${(ms / fusedMs).toFixed(1)}×` : r && r.status === 'too slow' && fusedMs ? `>${(20_000 / fusedMs).toFixed(0)}×` : '–';
      });
      const gflops = fusedMs ? (flops(fused!.layer, fused!.dims, fused!.mode) / (fusedMs * 1e6)).toFixed(2) : '–';
      const gc = fused?.gcMsPerStep != null ? `${fused.gcMsPerStep.toFixed(2)} (${fused.gcPerStep!.toFixed(1)})` : '–';
      out.push(`| ${layer} | ${size} | ${peers.map((p) => fmtMs(at(p), clock)).join(' | ')} | ${gflops} | ${ratios.join(' | ')} | ${gc} | ${fused?.peakRssMB ?? '–'} |`);
    }
    out.push('');
  }
  const notes = rows.filter((r) => r.note).map((r) => `- ${r.layer} ${r.size} ${r.mode} ${PEER_NAMES[r.peer]}: ${r.status}, ${r.note}`);
  if (notes.length) out.push('Notes:', '', ...notes, '');
  return out.join('\n');
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const arg = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const list = <T extends string>(name: string) => arg(name)?.split(',') as T[] | undefined;
  const quick = args.includes('--quick');
  // --threads N: seqgrad's large GEMMs on N threads (@seqgrad/autograd/threads), for every seqgrad peer.
  const threads = Number(arg('--threads') ?? 1);
  if (threads > 1) (await import('@seqgrad/autograd/threads')).enableGemmThreads(threads);
  if (args.includes('--soak')) {
    const steps = Number(arg('--soak') ?? 1000) || 1000;
    const soak = runSoak((list<LayerKind>('--layers') ?? ['LSTM'])[0], list('--sizes')?.[0] ?? 'S', steps);
    const md =
      `Soak: ${soak.steps} fused ${soak.layer} ${soak.size} training steps (float32), ${machine()}\n\n` +
      `Sampled after a 100-step warm-up and then every ${soak.every} steps${(globalThis as { gc?: unknown }).gc ? ', each after a forced GC' : ''}:\n\n` +
      `- RSS MB: ${soak.rssMB.join(', ')}\n` +
      `- V8 heap in use MB: ${soak.heapMB.join(', ')}\n\n` +
      `RSS growth, peak of the second half over peak of the first: ${soak.growthPercent.toFixed(1)}% (target: at most 5%). ` +
      `Median step ${soak.medianMs.toFixed(1)} ms.\n`;
    console.log(md);
    const out = arg('--out') ?? fileURLToPath(new URL(import.meta.url.includes('/dist/') ? '../results/' : './results/', import.meta.url));
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'soak.md'), md);
    return;
  }
  const clock: Clock = arg('--clock') === 'cpu' ? 'cpu' : 'wall';
  let peers = list<Peer>('--peers') ?? ['fused', 'composed', 'tfjs-wasm', 'tfjs-cpu'];
  for (const [flag, peer] of [['--torch', 'torch'], ['--torch2', 'torch2']] as const) {
    if (!args.includes(flag)) continue;
    if (TorchPeer.available()) peers = [...peers, peer];
    else console.error(`${flag}: /usr/bin/python3 cannot import torch; running without it`);
  }
  const started = new Date();
  // The 1-minute load average every 5 s of the run (the rounds yield to the event loop).
  const loads = [loadavg()[0]!];
  const sampler = setInterval(() => loads.push(loadavg()[0]!), 5000);
  const rows = await runBench({
    quick, peers, sizes: list('--sizes'), layers: list<LayerKind>('--layers'), modes: list<Mode>('--modes'),
    log: (line) => console.log(line),
  }).finally(() => clearInterval(sampler));
  loads.push(loadavg()[0]!);
  const load = `${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)} (median ${median(loads).toFixed(1)})`;
  const b = kernels.backend();
  const gemmName = `${b.gemm === 'wasm-simd-threads' ? `WebAssembly SIMD GEMM on up to ${b.threads} threads` : b.gemm === 'wasm-simd' ? 'WebAssembly SIMD GEMM on one thread' : 'TypeScript GEMM'}` +
    ` (kernels.backend(): ${b.reason})`;
  const header =
    `RNN benchmark${quick ? ' (quick mode: tiny sizes, timings not meaningful)' : ''}, float32, ${started.toISOString()}. ${machine()} ` +
    `1-minute load average during the run: ${load}. ` +
    `seqgrad uses the ${gemmName}; TF.js 4.22 wasm runs single-threaded with SIMD (XNNPACK). ` +
    `Sizes (B, T, I, H): ${Object.entries(quick ? QUICK_SIZES : SIZES).map(([k, d]) => `${k} = (${d.B}, ${d.T}, ${d.I}, ${d.H})`).join(', ')}. ` +
    `GFLOP/s counts forward as 2·B·T·G·H·(I+H) and a training step as 3× that.`;
  const other: Clock = clock === 'cpu' ? 'wall' : 'cpu';
  const md =
    benchMarkdown(rows, header, clock) +
    '\n' +
    benchMarkdown(rows, `## The same runs measured in ${other === 'cpu' ? 'CPU' : 'wall-clock'} time`, other);
  console.log('\n' + md);
  const out = arg('--out') ?? fileURLToPath(new URL(import.meta.url.includes('/dist/') ? '../results/' : './results/', import.meta.url));
  mkdirSync(out, { recursive: true });
  // A quick run (CI's harness check) must not overwrite the committed full results.
  const base = quick ? 'quick' : 'latest';
  writeFileSync(join(out, `${base}.md`), md);
  writeFileSync(join(out, `${base}.json`), JSON.stringify({ date: started.toISOString(), machine: machine(), loadAverage: loads, quick, rows }, null, 2) + '\n');
  console.log(`wrote ${join(out, `${base}.md`)} and ${base}.json`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
