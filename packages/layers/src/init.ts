import { type Generator, SeqgradError, type Tensor, defaultGenerator, fmt } from '@seqgrad/autograd';

/**
 * In-place initialisers, like `torch.nn.init`. Each writes into `t.data` (outside autograd),
 * bumps `t`'s version counter and returns `t`; every random draw comes from `opts.generator` or the global seeded one.
 *
 * @example
 * const w = zeros([4, 3], { requiresGrad: true });
 * init.xavierUniform(w, { generator: new Generator(0) });
 * init.constant(b, 0.1);
 */
export interface InitOptions {
  generator?: Generator;
}

function checkFloat(op: string, t: Tensor): void {
  if (t.dtype === 'int32') throw new SeqgradError(op, `tensor ${fmt(t.shape)} is int32; initialisers need float32 or float64`);
}

/** Fills with U(low, high). */
export function uniform(t: Tensor, low = 0, high = 1, opts: InitOptions = {}): Tensor {
  checkFloat('init.uniform', t);
  if (!(high >= low)) throw new SeqgradError('init.uniform', `need low <= high, got low=${low}, high=${high}`);
  const g = opts.generator ?? defaultGenerator;
  const d = t.data;
  for (let i = 0; i < d.length; i++) d[i] = low + (high - low) * g.uniform();
  return t.bumpVersion();
}

/** Fills with N(mean, std²). */
export function normal(t: Tensor, mean = 0, std = 1, opts: InitOptions = {}): Tensor {
  checkFloat('init.normal', t);
  if (!(std >= 0)) throw new SeqgradError('init.normal', `std must be >= 0, got ${std}`);
  const g = opts.generator ?? defaultGenerator;
  const d = t.data;
  for (let i = 0; i < d.length; i++) d[i] = mean + std * g.normal();
  return t.bumpVersion();
}

/** Fills with `value`. */
export function constant(t: Tensor, value: number): Tensor {
  checkFloat('init.constant', t);
  if (typeof value !== 'number' || Number.isNaN(value)) throw new SeqgradError('init.constant', `value must be a number, got ${String(value)}`);
  t.data.fill(value);
  return t.bumpVersion();
}

/** Fills with 0. */
export function zeros(t: Tensor): Tensor {
  return constant(t, 0);
}

/** Fills with 1. */
export function ones(t: Tensor): Tensor {
  return constant(t, 1);
}

/** fan_in and fan_out as PyTorch computes them: (out, in, *receptive). */
export function fans(t: Tensor, op = 'init.fans'): { fanIn: number; fanOut: number } {
  if (t.ndim < 2) throw new SeqgradError(op, `fan in and fan out need a tensor of rank >= 2, got ${fmt(t.shape)}`);
  const receptive = t.shape.slice(2).reduce((a, b) => a * b, 1);
  return { fanIn: t.shape[1]! * receptive, fanOut: t.shape[0]! * receptive };
}

/** Glorot: U(−a, a) with a = gain·√(6 / (fan_in + fan_out)). */
export function xavierUniform(t: Tensor, gain = 1, opts: InitOptions = {}): Tensor {
  checkFloat('init.xavierUniform', t);
  const { fanIn, fanOut } = fans(t, 'init.xavierUniform');
  const a = gain * Math.sqrt(6 / (fanIn + fanOut));
  return uniform(t, -a, a, opts);
}

/**
 * A (semi-)orthogonal matrix times `gain` (Saxe et al. 2013), as `torch.nn.init.orthogonal_`:
 * the Q of a QR decomposition of a normal matrix, with signs fixed by diag(R). The tensor is
 * viewed as (shape[0], rest); rows are orthonormal if there are fewer rows than columns,
 * columns otherwise.
 */
export function orthogonal(t: Tensor, gain = 1, opts: InitOptions = {}): Tensor {
  checkFloat('init.orthogonal', t);
  if (t.ndim < 2) throw new SeqgradError('init.orthogonal', `needs a tensor of rank >= 2, got ${fmt(t.shape)}`);
  const rows = t.shape[0]!;
  const cols = t.size / rows;
  const g = opts.generator ?? defaultGenerator;
  // Work on an n×m matrix with n >= m (transposed when rows < cols); Q has orthonormal columns.
  const n = Math.max(rows, cols);
  const m = Math.min(rows, cols);
  const q = new Float64Array(n * m); // column-major: column j at q[j*n .. j*n+n)
  for (let i = 0; i < q.length; i++) q[i] = g.normal();
  // Modified Gram–Schmidt; the sign convention of R's diagonal (positive) matches sign(diag(R)) fixing.
  for (let j = 0; j < m; j++) {
    const cj = j * n;
    for (let k = 0; k < j; k++) {
      const ck = k * n;
      let dot = 0;
      for (let i = 0; i < n; i++) dot += q[ck + i]! * q[cj + i]!;
      for (let i = 0; i < n; i++) q[cj + i] -= dot * q[ck + i]!;
    }
    let norm = 0;
    for (let i = 0; i < n; i++) norm += q[cj + i]! * q[cj + i]!;
    norm = Math.sqrt(norm);
    for (let i = 0; i < n; i++) q[cj + i] /= norm;
  }
  const d = t.data;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      // rows >= cols: element (r, c) is Q[r][c]; otherwise it is Q[c][r] (the transpose).
      d[r * cols + c] = gain * (rows >= cols ? q[c * n + r]! : q[r * n + c]!);
    }
  }
  return t.bumpVersion();
}
