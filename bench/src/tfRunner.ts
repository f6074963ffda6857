/**
 * The same layers in TensorFlow.js 4.22 (tfjs-core ops, the way tf.layers runs a recurrent
 * layer step by step): the input projection of all steps as one matMul, then per step the
 * recurrent matMul and the gate nonlinearities. PyTorch's gate order and GRU with the reset
 * gate applied after the hidden matmul, as in seqgrad. Training = forward, loss = sum of the
 * outputs, gradients of all weights and of the input (tf.grads), all inside tf.tidy.
 */
import { tf, useTfBackend } from './tf.js';
import type { Runner } from './seqgradRunner.js';
import { type Dims, GATES, type LayerKind, type Mode, filledArray } from './workloads.js';

type T2 = tf.Tensor2D;

function forward(layer: LayerKind, d: Dims, x: tf.Tensor, wIh: tf.Tensor, wHh: tf.Tensor, bIh: tf.Tensor, bHh: tf.Tensor): tf.Tensor {
  const { B, T, I, H } = d;
  const G = GATES[layer] * H;
  // (B·T, I) @ (I, G) for every step at once, then (T, B, G) so each step is one slice.
  const xw = tf.add(tf.matMul(tf.reshape(x, [B * T, I]) as T2, wIh as T2), bIh);
  const steps = tf.unstack(tf.transpose(tf.reshape(xw, [B, T, G]), [1, 0, 2]));
  let h: tf.Tensor = tf.zeros([B, H]);
  let c: tf.Tensor = tf.zeros([B, H]);
  const outputs: tf.Tensor[] = [];
  for (let t = 0; t < T; t++) {
    const hh = tf.add(tf.matMul(h as T2, wHh as T2), bHh);
    if (layer === 'LSTM') {
      const [i, f, g, o] = tf.split(tf.add(steps[t]!, hh), 4, 1);
      c = tf.add(tf.mul(tf.sigmoid(f!), c), tf.mul(tf.sigmoid(i!), tf.tanh(g!)));
      h = tf.mul(tf.sigmoid(o!), tf.tanh(c));
    } else if (layer === 'GRU') {
      const [xr, xz, xn] = tf.split(steps[t]!, 3, 1);
      const [hr, hz, hn] = tf.split(hh, 3, 1);
      const r = tf.sigmoid(tf.add(xr!, hr!));
      const z = tf.sigmoid(tf.add(xz!, hz!));
      const n = tf.tanh(tf.add(xn!, tf.mul(r, hn!)));
      h = tf.add(n, tf.mul(z, tf.sub(h, n))); // (1 − z)·n + z·h
    } else {
      h = tf.tanh(tf.add(steps[t]!, hh));
    }
    outputs.push(h);
  }
  return tf.stack(outputs, 1); // (B, T, H)
}

export async function tfRunner(backend: 'cpu' | 'wasm', layer: LayerKind, d: Dims, mode: Mode): Promise<Runner & { activate(): Promise<void> }> {
  await useTfBackend(backend);
  const G = GATES[layer] * d.H;
  const k = 1 / Math.sqrt(d.H);
  const x = tf.tensor3d(filledArray(d.B * d.T * d.I, 11), [d.B, d.T, d.I]);
  const wIh = tf.tensor2d(filledArray(d.I * G, 1, 2 * k), [d.I, G]);
  const wHh = tf.tensor2d(filledArray(d.H * G, 2, 2 * k), [d.H, G]);
  const bIh = tf.tensor1d(filledArray(G, 3, 2 * k));
  const bHh = tf.tensor1d(filledArray(G, 4, 2 * k));
  const held = [x, wIh, wHh, bIh, bHh];
  const lossOf = (xx: tf.Tensor, a: tf.Tensor, b: tf.Tensor, c: tf.Tensor, e: tf.Tensor) => tf.sum(forward(layer, d, xx, a, b, c, e));
  const gradsOf = tf.grads(lossOf as (...args: tf.Tensor[]) => tf.Tensor);
  return {
    async activate() {
      // Switching backends moves tensors lazily; touch them here so no move is timed.
      await useTfBackend(backend);
      tf.tidy(() => held.forEach((t) => tf.sum(t).dataSync()));
    },
    step: mode === 'train'
      ? () => {
          const grads = tf.tidy(() => gradsOf(held));
          for (const g of grads) g.dataSync();
          tf.dispose(grads);
        }
      : () => {
          const out = tf.tidy(() => forward(layer, d, x, wIh, wHh, bIh, bHh));
          out.dataSync();
          out.dispose();
        },
    dispose() {
      tf.dispose(held);
    },
  };
}
