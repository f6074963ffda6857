/**
 * The drawings of the page: live line charts through uPlot (two runs as two series on one
 * step axis) and two canvases per run, the gradient-flow heatmap and the gate activations.
 */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export const RUN_COLOURS = ['#d9480f', '#1971c2'] as const;

/** A chart of one quantity for both runs against the training step. */
export class LiveChart {
  private readonly plot: uPlot;
  private readonly series: (number | null)[][] = [[], []];
  private dirty = false;

  constructor(el: HTMLElement, title: string, labels: [string, string], opts: { log?: boolean; yRange?: [number, number] } = {}) {
    this.plot = new uPlot({
      title,
      width: Math.max(280, el.clientWidth || 380),
      height: 200,
      scales: {
        x: { time: false },
        y: opts.log ? { distr: 3 } : opts.yRange ? { range: opts.yRange } : {},
      },
      axes: [{ label: 'training step' }, {}],
      series: [
        {},
        { label: labels[0], stroke: RUN_COLOURS[0], width: 1.5, spanGaps: true },
        { label: labels[1], stroke: RUN_COLOURS[1], width: 1.5, spanGaps: true },
      ],
    }, [[], [], []], el);
  }

  setLabel(run: number, label: string): void {
    this.plot.series[run + 1]!.label = label;
    const legend = this.plot.root.querySelectorAll('.u-legend .u-series .u-label')[run + 1];
    if (legend) legend.textContent = label;
  }

  push(run: number, step: number, value: number): void {
    const s = this.series[run]!;
    while (s.length < step - 1) s.push(null);
    s[step - 1] = Number.isFinite(value) ? value : null;
    this.dirty = true;
  }

  clear(run: number): void {
    this.series[run] = [];
    this.dirty = true;
  }

  /** Redraws if anything changed (called once per animation frame). */
  redraw(): void {
    if (!this.dirty) return;
    this.dirty = false;
    const n = Math.max(this.series[0]!.length, this.series[1]!.length);
    const xs = Array.from({ length: n }, (_, i) => i + 1);
    const pad = (s: (number | null)[]) => Array.from({ length: n }, (_, i) => s[i] ?? null);
    this.plot.setData([xs, pad(this.series[0]!), pad(this.series[1]!)]);
  }

  /** The values of one run by step (index 0: step 1). */
  values(run: number): readonly (number | null)[] {
    return this.series[run]!;
  }
}

/** Viridis-like colour ramp, u in [0, 1]. */
function ramp(u: number): string {
  const stops = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]] as const;
  const x = Math.min(1, Math.max(0, u)) * (stops.length - 1);
  const k = Math.min(stops.length - 2, Math.floor(x));
  const f = x - k;
  const c = stops[k]!.map((v, i) => Math.round(v + (stops[k + 1]![i]! - v) * f));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

/** Blue (−1) – white (0) – red (+1). */
function diverging(v: number): string {
  const u = Math.min(1, Math.max(-1, v));
  const a = Math.round(255 * (1 - Math.abs(u)));
  return u >= 0 ? `rgb(255,${a},${a})` : `rgb(${a},${a},255)`;
}

export interface FlowRow {
  step: number;
  norms: number[];
}

/**
 * log10 ‖dL/dh_t‖ with time step t across and training step down, on a colour scale shared
 * by the runs given (so a dark left side means a gradient that vanished before reaching the
 * early steps, comparably between the runs).
 */
export function drawHeatmaps(canvases: HTMLCanvasElement[], rows: FlowRow[][], maxRows = 40): void {
  let lo = Infinity;
  let hi = -Infinity;
  const logs = rows.map((rs) => rs.slice(-maxRows).map((r) => ({ step: r.step, v: r.norms.map((n) => Math.log10(Math.max(n, 1e-30))) })));
  for (const rs of logs) for (const r of rs) for (const v of r.v) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  canvases.forEach((canvas, k) => {
    const ctx = canvas.getContext('2d')!;
    const W = canvas.width;
    const Hc = canvas.height;
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, W, Hc);
    const rs = logs[k] ?? [];
    canvas.dataset.rows = String(rs.length);
    if (rs.length === 0) return;
    const left = 48;
    const top = 14;
    const bottom = 18;
    const T = rs[0]!.v.length;
    const cw = (W - left - 4) / T;
    const ch = Math.min(24, (Hc - top - bottom) / Math.max(rs.length, 1));
    rs.forEach((r, i) => {
      r.v.forEach((v, t) => {
        ctx.fillStyle = ramp(hi > lo ? (v - lo) / (hi - lo) : 0.5);
        ctx.fillRect(left + t * cw, top + i * ch, Math.ceil(cw), Math.ceil(ch));
      });
    });
    ctx.fillStyle = '#222';
    ctx.font = '10px sans-serif';
    ctx.fillText(`log10 ‖dL/dh_t‖: ${lo.toFixed(1)} (dark) … ${hi.toFixed(1)} (bright)`, left, 10);
    ctx.fillText('t = 0', left, top + rs.length * ch + 12);
    ctx.fillText(`t = ${T - 1}`, W - 40, top + rs.length * ch + 12);
    ctx.fillText(`step ${rs[0]!.step}`, 2, top + 9);
    if (rs.length > 1) ctx.fillText(`step ${rs[rs.length - 1]!.step}`, 2, top + rs.length * ch);
  });
}

export interface Gates {
  step: number;
  names: string[];
  T: number;
  H: number;
  values: number[][];
}

/** Each gate as a block of H units (rows) over T time steps (columns), −1 blue, 0 white, +1 red. */
export function drawGates(canvas: HTMLCanvasElement, gates: Gates | null): void {
  const ctx = canvas.getContext('2d')!;
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  if (!gates) return;
  const { names, T, H, values } = gates;
  const left = 96;
  const label = 14;
  const blockH = (canvas.height - 4) / names.length;
  const ch = Math.max(1, (blockH - label) / H);
  const cw = (canvas.width - left - 4) / T;
  ctx.font = '10px sans-serif';
  names.forEach((name, g) => {
    const y0 = 2 + g * blockH;
    ctx.fillStyle = '#222';
    ctx.fillText(name, 2, y0 + label + 8);
    for (let t = 0; t < T; t++) {
      for (let j = 0; j < H; j++) {
        ctx.fillStyle = diverging(values[g]![t * H + j]!);
        ctx.fillRect(left + t * cw, y0 + label + j * ch, Math.ceil(cw), Math.ceil(ch));
      }
    }
  });
  ctx.fillStyle = '#222';
  ctx.fillText(`one probe sequence at step ${gates.step}: time →`, left, 10);
  canvas.dataset.gates = names.join(',');
}
