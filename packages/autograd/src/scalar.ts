import { SeqgradError } from './errors.js';

type Operand = Scalar | number;

/**
 * A micrograd-style scalar with reverse-mode autograd: every op records its inputs and the
 * local derivatives; `backward()` walks the graph iteratively (no recursion limit).
 *
 * @example
 * const a = new Scalar(2), b = new Scalar(-3);
 * const y = a.mul(b).add(a.tanh());
 * y.backward(); // a.grad = b + (1 − tanh²a), b.grad = a
 */
export class Scalar {
  grad = 0;
  constructor(
    public data: number,
    /** Inputs of the op that made this value, with d(this)/d(input). */
    readonly parents: ReadonlyArray<readonly [Scalar, number]> = [],
    readonly op = '',
  ) {}

  private static lift(x: Operand): Scalar {
    if (x instanceof Scalar) return x;
    if (typeof x !== 'number') throw new SeqgradError('Scalar', `operand must be a Scalar or a number, got ${typeof x}`);
    return new Scalar(x);
  }

  // d(a + b) = da + db
  add(other: Operand): Scalar {
    const b = Scalar.lift(other);
    return new Scalar(this.data + b.data, [[this, 1], [b, 1]], 'add');
  }
  // d(a − b) = da − db
  sub(other: Operand): Scalar {
    const b = Scalar.lift(other);
    return new Scalar(this.data - b.data, [[this, 1], [b, -1]], 'sub');
  }
  // d(a b) = b da + a db
  mul(other: Operand): Scalar {
    const b = Scalar.lift(other);
    return new Scalar(this.data * b.data, [[this, b.data], [b, this.data]], 'mul');
  }
  // d(a / b) = da / b − a db / b²
  div(other: Operand): Scalar {
    const b = Scalar.lift(other);
    return new Scalar(this.data / b.data, [[this, 1 / b.data], [b, -this.data / (b.data * b.data)]], 'div');
  }
  // d(a^b) = b a^(b−1) da + a^b ln(a) db
  pow(other: Operand): Scalar {
    const b = Scalar.lift(other);
    const y = Math.pow(this.data, b.data);
    const db = this.data === 0 && b.data >= 0 ? 0 : y * Math.log(this.data);
    return new Scalar(y, [[this, b.data * Math.pow(this.data, b.data - 1)], [b, db]], 'pow');
  }
  // d(−a) = −da
  neg(): Scalar {
    return new Scalar(-this.data, [[this, -1]], 'neg');
  }
  // d exp(a) = exp(a) da
  exp(): Scalar {
    const y = Math.exp(this.data);
    return new Scalar(y, [[this, y]], 'exp');
  }
  // d ln(a) = da / a
  log(): Scalar {
    return new Scalar(Math.log(this.data), [[this, 1 / this.data]], 'log');
  }
  // d tanh(a) = (1 − tanh²a) da
  tanh(): Scalar {
    const y = Math.tanh(this.data);
    return new Scalar(y, [[this, 1 - y * y]], 'tanh');
  }
  // d σ(a) = σ(a)(1 − σ(a)) da
  sigmoid(): Scalar {
    const v = this.data;
    const y = v >= 0 ? 1 / (1 + Math.exp(-v)) : Math.exp(v) / (1 + Math.exp(v));
    return new Scalar(y, [[this, y * (1 - y)]], 'sigmoid');
  }
  // d relu(a) = [a > 0] da
  relu(): Scalar {
    return new Scalar(this.data > 0 ? this.data : 0, [[this, this.data > 0 ? 1 : 0]], 'relu');
  }

  /** Sets d(this)/d(v) into every `v.grad` reachable from here (accumulating, like tensors). */
  backward(): void {
    // Iterative post-order DFS for a topological order.
    const order: Scalar[] = [];
    const visited = new Set<Scalar>();
    const stack: Array<[Scalar, boolean]> = [[this, false]];
    while (stack.length > 0) {
      const [v, expanded] = stack.pop()!;
      if (expanded) {
        order.push(v);
        continue;
      }
      if (visited.has(v)) continue;
      visited.add(v);
      stack.push([v, true]);
      for (const [p] of v.parents) if (!visited.has(p)) stack.push([p, false]);
    }
    this.grad += 1;
    // Upstream grads of intermediate nodes start at zero for this pass.
    const upstream = new Map<Scalar, number>([[this, 1]]);
    for (let k = order.length - 1; k >= 0; k--) {
      const v = order[k]!;
      const g = upstream.get(v) ?? 0;
      for (const [p, local] of v.parents) {
        upstream.set(p, (upstream.get(p) ?? 0) + g * local);
        p.grad += g * local;
      }
    }
  }

  toString(): string {
    return `Scalar(data=${this.data}, grad=${this.grad})`;
  }
}
