;; WebAssembly SIMD gate loops of the fused recurrent layers, float32 only (f32x4): the per-step
;; activations and cell updates of the LSTM, GRU (reset after the product) and tanh RNN, and their
;; backward steps (the RNN's for tanh and relu). Float64 keeps the TypeScript loops.
;;
;; Every kernel works on one batch row: pointers are byte addresses in this module's memory, rows
;; of H floats (H a multiple of 4; the caller checks), gate rows of G·H floats with the gate blocks
;; one after the other as in the PyTorch layout. The JavaScript side (backend/gates.ts) lays out
;; the state and step buffers of a whole sequence in this memory, which grows when a sequence needs
;; more and is reused by the next.
;;
;; The activations: exp by range reduction (x = n·ln2 + r, |r| ≤ ln2/2, 2^n built in the exponent
;; bits) and Cephes' degree-5 polynomial for e^r − 1 − r, all in f32x4 arithmetic:
;;   sigmoid(x) = 1 / (1 + e^−x)       (−x clamped to [−87, 88], where the result is 1 or below 1e−38)
;;   tanh(x)    = e / (e + 2), e = e^2x − 1 = 2^n·q + (2^n − 1), q = e^r − 1   (x clamped to ±9)
;; e^r − 1 is relatively accurate near 0, so tanh is too. Both are within 3 float32 ulps of the
;; float64 reference on [−80, 80] (packages/autograd/test/gates.test.ts); NaN gives NaN.
;;
;; Assembled by `pnpm build:wasm` (packages/autograd/scripts/build-wasm.mjs), which expands the
;; SIGMOID, TANH and EXP_LOCALS macros and splits the functions into modules (each under the
;; 4 KB Chrome compiles synchronously) over one imported memory, into gatesBytes.generated.ts; a
;; test checks that file is up to date.
(module
  (import "env" "memory" (memory 1 65536))

  ;; The macros SIGMOID and TANH, written in braces with a local's name (expanded by the build
  ;; script, inline: V8 does not inline calls between WebAssembly functions), replace the f32x4 in
  ;; that local by its sigmoid or tanh, using the scratch locals that the EXP_LOCALS macro declares.

  ;; a·b + c·d rounded once from float64 (the float32 products are exact there), as the
  ;; TypeScript loop computes it: the LSTM's c_t = f·c_{t−1} + i·g, bit for bit.
  (func $dot2 (param $a v128) (param $b v128) (param $c v128) (param $d v128) (result v128)
    (local $lo v128) (local $hi v128)
    (local.set $lo (f64x2.add
      (f64x2.mul (f64x2.promote_low_f32x4 (local.get $a)) (f64x2.promote_low_f32x4 (local.get $b)))
      (f64x2.mul (f64x2.promote_low_f32x4 (local.get $c)) (f64x2.promote_low_f32x4 (local.get $d)))))
    (local.set $a (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $a) (local.get $a)))
    (local.set $b (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $b) (local.get $b)))
    (local.set $c (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $c) (local.get $c)))
    (local.set $d (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $d) (local.get $d)))
    (local.set $hi (f64x2.add
      (f64x2.mul (f64x2.promote_low_f32x4 (local.get $a)) (f64x2.promote_low_f32x4 (local.get $b)))
      (f64x2.mul (f64x2.promote_low_f32x4 (local.get $c)) (f64x2.promote_low_f32x4 (local.get $d)))))
    (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
      (f32x4.demote_f64x2_zero (local.get $lo)) (f32x4.demote_f64x2_zero (local.get $hi))))

  ;; a[i] = sigmoid(a[i]) for i < n (n a multiple of 4).
  (func (export "sigmoid") (param $a i32) (param $len i32)
    (local $end i32) (local $v v128) {EXP_LOCALS}
    (local.set $end (i32.add (local.get $a) (i32.shl (local.get $len) (i32.const 2))))
    (block $done (loop $l
      (br_if $done (i32.ge_u (local.get $a) (local.get $end)))
      (local.set $v (v128.load (local.get $a)))
      {SIGMOID $v}
      (v128.store (local.get $a) (local.get $v))
      (local.set $a (i32.add (local.get $a) (i32.const 16)))
      (br $l))))

  ;; a[i] = tanh(a[i]) for i < n (n a multiple of 4).
  (func (export "tanh") (param $a i32) (param $len i32)
    (local $end i32) (local $v v128) {EXP_LOCALS}
    (local.set $end (i32.add (local.get $a) (i32.shl (local.get $len) (i32.const 2))))
    (block $done (loop $l
      (br_if $done (i32.ge_u (local.get $a) (local.get $end)))
      (local.set $v (v128.load (local.get $a)))
      {TANH $v}
      (v128.store (local.get $a) (local.get $v))
      (local.set $a (i32.add (local.get $a) (i32.const 16)))
      (br $l))))

  ;; One LSTM step of one batch row. $g: the row's gate pre-activations x W_ihᵀ + biases (4H),
  ;; overwritten by i, f, g, o; $hh: h_{t−1} W_hhᵀ (4H); $c: c_{t−1} (H), overwritten by c_t;
  ;; writes c_{t−1} to $cprev, tanh(c_t) to $tanhc and o ⊙ tanh(c_t) to $hout (H each).
  (func (export "lstm_forward") (param $g i32) (param $hh i32) (param $c i32) (param $cprev i32) (param $tanhc i32) (param $hout i32) (param $H i32)
    (local $j i32) (local $end i32) (local $hb i32) {EXP_LOCALS}
    (local $i v128) (local $f v128) (local $gg v128) (local $o v128) (local $cp v128) (local $cn v128) (local $tc v128)
    (local.set $hb (i32.shl (local.get $H) (i32.const 2)))
    (local.set $end (local.get $hb))
    (block $done (loop $l
      (br_if $done (i32.ge_u (local.get $j) (local.get $end)))
      (local.set $i (f32x4.add (v128.load (i32.add (local.get $g) (local.get $j))) (v128.load (i32.add (local.get $hh) (local.get $j))))) {SIGMOID $i}
      (local.set $f (f32x4.add
        (v128.load (i32.add (i32.add (local.get $g) (local.get $hb)) (local.get $j)))
        (v128.load (i32.add (i32.add (local.get $hh) (local.get $hb)) (local.get $j))))) {SIGMOID $f}
      (local.set $gg (f32x4.add
        (v128.load (i32.add (i32.add (local.get $g) (i32.shl (local.get $hb) (i32.const 1))) (local.get $j)))
        (v128.load (i32.add (i32.add (local.get $hh) (i32.shl (local.get $hb) (i32.const 1))) (local.get $j))))) {TANH $gg}
      (local.set $o (f32x4.add
        (v128.load (i32.add (i32.add (local.get $g) (i32.mul (local.get $hb) (i32.const 3))) (local.get $j)))
        (v128.load (i32.add (i32.add (local.get $hh) (i32.mul (local.get $hb) (i32.const 3))) (local.get $j))))) {SIGMOID $o}
      (v128.store (i32.add (local.get $g) (local.get $j)) (local.get $i))
      (v128.store (i32.add (i32.add (local.get $g) (local.get $hb)) (local.get $j)) (local.get $f))
      (v128.store (i32.add (i32.add (local.get $g) (i32.shl (local.get $hb) (i32.const 1))) (local.get $j)) (local.get $gg))
      (v128.store (i32.add (i32.add (local.get $g) (i32.mul (local.get $hb) (i32.const 3))) (local.get $j)) (local.get $o))
      (local.set $cp (v128.load (i32.add (local.get $c) (local.get $j))))
      (local.set $cn (call $dot2 (local.get $f) (local.get $cp) (local.get $i) (local.get $gg)))
      (v128.store (i32.add (local.get $cprev) (local.get $j)) (local.get $cp))
      (v128.store (i32.add (local.get $c) (local.get $j)) (local.get $cn))
      (local.set $tc (local.get $cn)) {TANH $tc}
      (v128.store (i32.add (local.get $tanhc) (local.get $j)) (local.get $tc))
      (v128.store (i32.add (local.get $hout) (local.get $j)) (f32x4.mul (local.get $o) (local.get $tc)))
      (local.set $j (i32.add (local.get $j) (i32.const 16)))
      (br $l))))

  ;; The LSTM step going back, one batch row. $g: i, f, g, o (4H); $tanhc, $cprev (H); $dm: dL/dm
  ;; (H, dL/dh without a projection); $dout: a row (H) first added to $dm in place (the output's
  ;; gradient at this step), or 0 for none; $dc: dc_{t+1}·f_{t+1} (H), overwritten by dc_t·f_t; $dcin: a
  ;; further dL/dc_t (H) or 0 for none; $dcout: where dc_t goes (H) or 0; $da: the four
  ;; pre-activation gradients (4H):
  ;;   dc_t = dc + dm·o·(1 − tanh² c_t) (+ dcin)
  ;;   da_i = dc_t·g·i(1 − i), da_f = dc_t·c_{t−1}·f(1 − f), da_g = dc_t·i·(1 − g²), da_o = dm·tanh c_t·o(1 − o)
  (func (export "lstm_backward") (param $g i32) (param $tanhc i32) (param $cprev i32) (param $dm i32) (param $dout i32) (param $dc i32)
    (param $dcin i32) (param $dcout i32) (param $da i32) (param $H i32)
    (local $j i32) (local $end i32) (local $hb i32)
    (local $i v128) (local $f v128) (local $gg v128) (local $o v128) (local $tc v128) (local $dmj v128) (local $dct v128)
    (local $one v128)
    (local.set $one (v128.const f32x4 1 1 1 1))
    (local.set $hb (i32.shl (local.get $H) (i32.const 2)))
    (local.set $end (local.get $hb))
    (block $done (loop $l
      (br_if $done (i32.ge_u (local.get $j) (local.get $end)))
      (local.set $i (v128.load (i32.add (local.get $g) (local.get $j))))
      (local.set $f (v128.load (i32.add (i32.add (local.get $g) (local.get $hb)) (local.get $j))))
      (local.set $gg (v128.load (i32.add (i32.add (local.get $g) (i32.shl (local.get $hb) (i32.const 1))) (local.get $j))))
      (local.set $o (v128.load (i32.add (i32.add (local.get $g) (i32.mul (local.get $hb) (i32.const 3))) (local.get $j))))
      (local.set $tc (v128.load (i32.add (local.get $tanhc) (local.get $j))))
      (local.set $dmj (v128.load (i32.add (local.get $dm) (local.get $j))))
      (if (local.get $dout) (then
        (local.set $dmj (f32x4.add (local.get $dmj) (v128.load (i32.add (local.get $dout) (local.get $j)))))
        (v128.store (i32.add (local.get $dm) (local.get $j)) (local.get $dmj))))
      (local.set $dct (f32x4.add (v128.load (i32.add (local.get $dc) (local.get $j)))
        (f32x4.mul (f32x4.mul (local.get $dmj) (local.get $o))
          (f32x4.sub (local.get $one) (f32x4.mul (local.get $tc) (local.get $tc))))))
      (if (local.get $dcin) (then
        (local.set $dct (f32x4.add (local.get $dct) (v128.load (i32.add (local.get $dcin) (local.get $j)))))))
      (if (local.get $dcout) (then
        (v128.store (i32.add (local.get $dcout) (local.get $j)) (local.get $dct))))
      (v128.store (i32.add (local.get $da) (local.get $j))
        (f32x4.mul (f32x4.mul (local.get $dct) (local.get $gg)) (f32x4.mul (local.get $i) (f32x4.sub (local.get $one) (local.get $i)))))
      (v128.store (i32.add (i32.add (local.get $da) (local.get $hb)) (local.get $j))
        (f32x4.mul (f32x4.mul (local.get $dct) (v128.load (i32.add (local.get $cprev) (local.get $j))))
          (f32x4.mul (local.get $f) (f32x4.sub (local.get $one) (local.get $f)))))
      (v128.store (i32.add (i32.add (local.get $da) (i32.shl (local.get $hb) (i32.const 1))) (local.get $j))
        (f32x4.mul (f32x4.mul (local.get $dct) (local.get $i)) (f32x4.sub (local.get $one) (f32x4.mul (local.get $gg) (local.get $gg)))))
      (v128.store (i32.add (i32.add (local.get $da) (i32.mul (local.get $hb) (i32.const 3))) (local.get $j))
        (f32x4.mul (f32x4.mul (local.get $dmj) (local.get $tc)) (f32x4.mul (local.get $o) (f32x4.sub (local.get $one) (local.get $o)))))
      (v128.store (i32.add (local.get $dc) (local.get $j)) (f32x4.mul (local.get $dct) (local.get $f)))
      (local.set $j (i32.add (local.get $j) (i32.const 16)))
      (br $l))))

  ;; One tanh-RNN step of one batch row: $a (H) = tanh($a + $hh), also written to $h.
  (func (export "rnn_tanh_forward") (param $a i32) (param $hh i32) (param $h i32) (param $H i32)
    (local $j i32) (local $end i32) (local $v v128) {EXP_LOCALS}
    (local.set $end (i32.shl (local.get $H) (i32.const 2)))
    (block $done (loop $l
      (br_if $done (i32.ge_u (local.get $j) (local.get $end)))
      (local.set $v (f32x4.add (v128.load (i32.add (local.get $a) (local.get $j))) (v128.load (i32.add (local.get $hh) (local.get $j))))) {TANH $v}
      (v128.store (i32.add (local.get $a) (local.get $j)) (local.get $v))
      (v128.store (i32.add (local.get $h) (local.get $j)) (local.get $v))
      (local.set $j (i32.add (local.get $j) (i32.const 16)))
      (br $l))))

  ;; One GRU step (reset after the product) of one batch row. $g: x W_ihᵀ + b_ih + b_hh for r, z
  ;; and x W_inᵀ + b_in for n (3H), overwritten by r, z, n; $hh: h W_hhᵀ (3H); $bhn: b_hn (H) or 0;
  ;; $h: h_{t−1} (H), overwritten by h_t = (1 − z)·n + z·h_{t−1}; writes h W_hnᵀ + b_hn to $hn.
  ;;   r = σ(g_r + hh_r), z = σ(g_z + hh_z), n = tanh(g_n + r·(hh_n + b_hn))
  (func (export "gru_forward") (param $g i32) (param $hh i32) (param $bhn i32) (param $h i32) (param $hn i32) (param $H i32)
    (local $j i32) (local $end i32) (local $hb i32) {EXP_LOCALS}
    (local $r v128) (local $z v128) (local $n v128) (local $hnv v128) (local $hp v128)
    (local.set $hb (i32.shl (local.get $H) (i32.const 2)))
    (local.set $end (local.get $hb))
    (block $done (loop $l
      (br_if $done (i32.ge_u (local.get $j) (local.get $end)))
      (local.set $r (f32x4.add (v128.load (i32.add (local.get $g) (local.get $j))) (v128.load (i32.add (local.get $hh) (local.get $j))))) {SIGMOID $r}
      (local.set $z (f32x4.add
        (v128.load (i32.add (i32.add (local.get $g) (local.get $hb)) (local.get $j)))
        (v128.load (i32.add (i32.add (local.get $hh) (local.get $hb)) (local.get $j))))) {SIGMOID $z}
      (local.set $hnv (v128.load (i32.add (i32.add (local.get $hh) (i32.shl (local.get $hb) (i32.const 1))) (local.get $j))))
      (if (local.get $bhn) (then
        (local.set $hnv (f32x4.add (local.get $hnv) (v128.load (i32.add (local.get $bhn) (local.get $j)))))))
      (local.set $n (f32x4.add
        (v128.load (i32.add (i32.add (local.get $g) (i32.shl (local.get $hb) (i32.const 1))) (local.get $j)))
        (f32x4.mul (local.get $r) (local.get $hnv)))) {TANH $n}
      (v128.store (i32.add (local.get $g) (local.get $j)) (local.get $r))
      (v128.store (i32.add (i32.add (local.get $g) (local.get $hb)) (local.get $j)) (local.get $z))
      (v128.store (i32.add (i32.add (local.get $g) (i32.shl (local.get $hb) (i32.const 1))) (local.get $j)) (local.get $n))
      (v128.store (i32.add (local.get $hn) (local.get $j)) (local.get $hnv))
      (local.set $hp (v128.load (i32.add (local.get $h) (local.get $j))))
      (v128.store (i32.add (local.get $h) (local.get $j))
        (f32x4.add (f32x4.mul (f32x4.sub (v128.const f32x4 1 1 1 1) (local.get $z)) (local.get $n)) (f32x4.mul (local.get $z) (local.get $hp))))
      (local.set $j (i32.add (local.get $j) (i32.const 16)))
      (br $l))))

  ;; The GRU step (reset after the product) going back, one batch row. $g: r, z, n (3H); $hp: h_{t−1}
  ;; (H); $hn: h W_hnᵀ + b_hn (H); $dh: dL/dh_t from the step after (H), overwritten by the direct
  ;; part of dL/dh_{t−1}, g·z (the caller adds da·W_hh to it); $dout: dL/dh_t from the output (H)
  ;; or 0; $dhid: where g = dh + dout goes (H) or 0; $dgi, $dgh: the input- and hidden-side
  ;; pre-activation gradients (3H each); $da: the hidden-side ones again (3H), the GEMM's row:
  ;;   da_n = g·(1 − z)·(1 − n²), da_z = g·(h_{t−1} − n)·z(1 − z), da_r = da_n·hn·r(1 − r)
  ;;   dgi = [da_r, da_z, da_n], dgh = da = [da_r, da_z, da_n·r]
  (func (export "gru_backward") (param $g i32) (param $hp i32) (param $hn i32) (param $dh i32) (param $dout i32)
    (param $dhid i32) (param $dgi i32) (param $dgh i32) (param $da i32) (param $H i32)
    (local $j i32) (local $end i32) (local $hb i32) (local $hb2 i32)
    (local $r v128) (local $z v128) (local $n v128) (local $gv v128) (local $dan v128) (local $daz v128) (local $dar v128) (local $dhn v128)
    (local $one v128)
    (local.set $one (v128.const f32x4 1 1 1 1))
    (local.set $hb (i32.shl (local.get $H) (i32.const 2)))
    (local.set $hb2 (i32.shl (local.get $H) (i32.const 3)))
    (local.set $end (local.get $hb))
    (block $done (loop $l
      (br_if $done (i32.ge_u (local.get $j) (local.get $end)))
      (local.set $gv (v128.load (i32.add (local.get $dh) (local.get $j))))
      (if (local.get $dout) (then
        (local.set $gv (f32x4.add (local.get $gv) (v128.load (i32.add (local.get $dout) (local.get $j)))))))
      (if (local.get $dhid) (then
        (v128.store (i32.add (local.get $dhid) (local.get $j)) (local.get $gv))))
      (local.set $r (v128.load (i32.add (local.get $g) (local.get $j))))
      (local.set $z (v128.load (i32.add (i32.add (local.get $g) (local.get $hb)) (local.get $j))))
      (local.set $n (v128.load (i32.add (i32.add (local.get $g) (local.get $hb2)) (local.get $j))))
      (local.set $dan (f32x4.mul (f32x4.mul (local.get $gv) (f32x4.sub (local.get $one) (local.get $z)))
        (f32x4.sub (local.get $one) (f32x4.mul (local.get $n) (local.get $n)))))
      (local.set $daz (f32x4.mul (f32x4.mul (local.get $gv) (f32x4.sub (v128.load (i32.add (local.get $hp) (local.get $j))) (local.get $n)))
        (f32x4.mul (local.get $z) (f32x4.sub (local.get $one) (local.get $z)))))
      (local.set $dar (f32x4.mul (f32x4.mul (local.get $dan) (v128.load (i32.add (local.get $hn) (local.get $j))))
        (f32x4.mul (local.get $r) (f32x4.sub (local.get $one) (local.get $r)))))
      (local.set $dhn (f32x4.mul (local.get $dan) (local.get $r)))
      (v128.store (i32.add (local.get $dh) (local.get $j)) (f32x4.mul (local.get $gv) (local.get $z)))
      (v128.store (i32.add (local.get $dgi) (local.get $j)) (local.get $dar))
      (v128.store (i32.add (i32.add (local.get $dgi) (local.get $hb)) (local.get $j)) (local.get $daz))
      (v128.store (i32.add (i32.add (local.get $dgi) (local.get $hb2)) (local.get $j)) (local.get $dan))
      (v128.store (i32.add (local.get $dgh) (local.get $j)) (local.get $dar))
      (v128.store (i32.add (i32.add (local.get $dgh) (local.get $hb)) (local.get $j)) (local.get $daz))
      (v128.store (i32.add (i32.add (local.get $dgh) (local.get $hb2)) (local.get $j)) (local.get $dhn))
      (v128.store (i32.add (local.get $da) (local.get $j)) (local.get $dar))
      (v128.store (i32.add (i32.add (local.get $da) (local.get $hb)) (local.get $j)) (local.get $daz))
      (v128.store (i32.add (i32.add (local.get $da) (local.get $hb2)) (local.get $j)) (local.get $dhn))
      (local.set $j (i32.add (local.get $j) (i32.const 16)))
      (br $l))))

  ;; The RNN step going back, one batch row. $h: h_t (H); $dh: dL/dh_t from the step after (H),
  ;; zeroed (the caller adds da·W_hh to it); $dout: dL/dh_t from the output (H) or 0; $dhid: where
  ;; g = dh + dout goes (H) or 0; $da, $da2: the pre-activation gradient (H), written to both:
  ;;   tanh: da = g·(1 − h²);  relu ($relu ≠ 0): da = g where h > 0, else 0
  (func (export "rnn_backward") (param $h i32) (param $dh i32) (param $dout i32) (param $dhid i32)
    (param $da i32) (param $da2 i32) (param $relu i32) (param $H i32)
    (local $j i32) (local $end i32) (local $hv v128) (local $gv v128) (local $d v128)
    (local.set $end (i32.shl (local.get $H) (i32.const 2)))
    (block $done (loop $l
      (br_if $done (i32.ge_u (local.get $j) (local.get $end)))
      (local.set $gv (v128.load (i32.add (local.get $dh) (local.get $j))))
      (if (local.get $dout) (then
        (local.set $gv (f32x4.add (local.get $gv) (v128.load (i32.add (local.get $dout) (local.get $j)))))))
      (if (local.get $dhid) (then
        (v128.store (i32.add (local.get $dhid) (local.get $j)) (local.get $gv))))
      (local.set $hv (v128.load (i32.add (local.get $h) (local.get $j))))
      (if (local.get $relu)
        (then (local.set $d (v128.and (local.get $gv) (f32x4.gt (local.get $hv) (v128.const f32x4 0 0 0 0)))))
        (else (local.set $d (f32x4.mul (local.get $gv)
          (f32x4.sub (v128.const f32x4 1 1 1 1) (f32x4.mul (local.get $hv) (local.get $hv)))))))
      (v128.store (i32.add (local.get $da) (local.get $j)) (local.get $d))
      (v128.store (i32.add (local.get $da2) (local.get $j)) (local.get $d))
      (v128.store (i32.add (local.get $dh) (local.get $j)) (v128.const f32x4 0 0 0 0))
      (local.set $j (i32.add (local.get $j) (i32.const 16)))
      (br $l))))
)
