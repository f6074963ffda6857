// A small end-to-end demo: a GRU-free, LSTM-free recurrent net written with @seqgrad/autograd
// ops learns to sum a short sequence. The CLI's `seqgrad experiment` replaces this demo.
import { manualSeed, randn, zeros, linear, mseLoss, rand, noGrad } from '@seqgrad/autograd';

manualSeed(0);
const B = 32, T = 5, H = 16;
const p = (shape, scale) => randn(shape, { std: scale, requiresGrad: true });
const Wih = p([H, 1], 0.5), Whh = p([H, H], 0.2), bh = zeros([H], { requiresGrad: true });
const Wo = p([1, H], 0.2), bo = zeros([1], { requiresGrad: true });
const params = [Wih, Whh, bh, Wo, bo];
for (let step = 0; step <= 300; step++) {
  const x = rand([B, T, 1]);
  const target = x.sum([1, 2]).reshape([B, 1]);
  let h = zeros([B, H]);
  for (let t = 0; t < T; t++) h = linear(x.select(1, t), Wih, bh).add(linear(h, Whh)).tanh();
  const loss = mseLoss(linear(h, Wo, bo), target);
  loss.backward();
  noGrad(() => {
    for (const q of params) {
      for (let i = 0; i < q.data.length; i++) q.data[i] -= 0.05 * q.grad.data[i];
      q.grad = null;
    }
  });
  if (step % 50 === 0) console.log(`step ${step}  loss ${loss.item().toFixed(4)}`);
}
