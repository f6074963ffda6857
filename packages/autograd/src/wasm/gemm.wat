;; WebAssembly SIMD GEMM kernels for seqgrad: C = alpha · op(A) · op(B) (+ C), one block at a time.
;;
;; This file is a template. `pnpm build:wasm` (packages/autograd/scripts/build-wasm.mjs) expands the part
;; between TEMPLATE-BEGIN and TEMPLATE-END twice, for f32 (4 lanes, MR×8 register tile) and for
;; f64 (2 lanes, MR×4 register tile), assembles the module with wabt and writes
;; gemmBytes.generated.ts next to this file. A test checks that file is up to date.
;;
;; Placeholders: {T} scalar type, {V} vector shape, {ES} element bytes, {MR} register-tile rows
;; ({MRM1} = MR − 1), {MC} rows of op(A) per packed block (a multiple of MR), {AK} bytes of one
;; packed A column (MR rows), {NR} register-tile columns ({NRMASK} = NR − 1), {KERNEL} the register
;; tile (see registerTile in build-wasm.mjs).
;;
;; The JavaScript side (gemm.ts) copies a block of op(B) (at most KC×NC) and of op(A) (at most
;; MC×KC) into the staging areas with TypedArray.set, calls pack_b / pack_a, copies the C tile in,
;; calls macro, and copies the C tile out. The memory has a fixed size and never grows, so no
;; call leaves anything behind.
;;
;; Every address the functions compute is relative to $base: the packed blocks, which each thread
;; needs for itself. The single-threaded module below has $base = 0 and owns its memory. Two more
;; variants are assembled from this same file with the two declarations after `(module` replaced:
;; - shared (the worker-thread backend): `(import "env" "memory" (memory 1 65536 shared))` and
;;   `(import "env" "base" (global $base i32))`, so each thread's instance packs into its own area
;;   of one shared memory and reads the staged blocks and the C tile wherever the caller put them
;;   (part_{T} takes their addresses);
;; - resident (op(B) packed once and kept, for gemmPacked): `(import "env" "memory" (memory 22))`
;;   with $base = 0, the same layout in a memory that JavaScript grows to hold packed blocks above
;;   the 22 pages (macro_{T} takes the address of the packed block).
;;
;; Memory layout of the single-threaded module (bytes; the same for f32 and f64, whose block
;; sizes are chosen to fit). The first two areas are the ones at $base in the threaded variant.
;;   BPACK      0 .. 524288   packed op(B) block, panels of NR columns: [panel][k][NR]
;;   APACK 524288 .. 655360   packed op(A) block, panels of MR rows: [panel][k][MR]
;;   BRAW  655360 .. 1179648  op(B) block as copied from the caller
;;   ARAW  1179648 .. 1310720 op(A) block as copied from the caller
;;   CTILE 1310720 .. 1441792 C tile, up to 64 rows (MC padded to MR) of at most 2048 bytes (512 f32 or 256 f64)
(module
  (memory (export "memory") 22 22)
  (global $base i32 (i32.const 0))

  ;; TEMPLATE-BEGIN

  ;; Packs an MC×KC block of op(A): element (i, k) is at src + i*rs + k*cs (bytes).
  ;; APACK[(i / MR)*MR*kc + k*MR + (i % MR)] = el(i, k); rows from mc up to a multiple of MR are zero.
  (func $pack_a_{T} (export "pack_a_{T}") (param $src i32) (param $rs i32) (param $cs i32) (param $mc i32) (param $kc i32)
    (local $i i32) (local $mcPad i32) (local $s i32) (local $d i32) (local $end i32)
    (local.set $mcPad (i32.mul (i32.div_u (i32.add (local.get $mc) (i32.const {MRM1})) (i32.const {MR})) (i32.const {MR})))
    (block $done
      (loop $rows
        (br_if $done (i32.ge_u (local.get $i) (local.get $mcPad)))
        (local.set $d (i32.add (i32.add (global.get $base) (i32.const 524288))
          (i32.mul (i32.add (i32.mul (i32.mul (i32.div_u (local.get $i) (i32.const {MR})) (i32.const {MR})) (local.get $kc))
                            (i32.rem_u (local.get $i) (i32.const {MR})))
                   (i32.const {ES}))))
        (local.set $end (i32.add (local.get $d) (i32.mul (local.get $kc) (i32.const {AK}))))
        (if (i32.lt_u (local.get $i) (local.get $mc))
          (then
            (local.set $s (i32.add (local.get $src) (i32.mul (local.get $i) (local.get $rs))))
            (loop $k
              ({T}.store (local.get $d) ({T}.load (local.get $s)))
              (local.set $s (i32.add (local.get $s) (local.get $cs)))
              (local.set $d (i32.add (local.get $d) (i32.const {AK})))
              (br_if $k (i32.lt_u (local.get $d) (local.get $end)))))
          (else
            (loop $z
              ({T}.store (local.get $d) ({T}.const 0))
              (local.set $d (i32.add (local.get $d) (i32.const {AK})))
              (br_if $z (i32.lt_u (local.get $d) (local.get $end))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $rows))))

  ;; Packs a KC×NC block of op(B): element (k, j) is at src + k*rs + j*cs (bytes).
  ;; BPACK[(j & ~NRMASK)*kc + k*NR + (j & NRMASK)] = el(k, j); columns from nc up to a multiple
  ;; of NR are zero. Full panels take a vector path: two v128 per k and panel when rows are
  ;; contiguous (cs = ES), 4×4 (f32) or 2×2 (f64) transposes when columns are (rs = ES).
  (func $pack_b_{T} (export "pack_b_{T}") (param $src i32) (param $rs i32) (param $cs i32) (param $kc i32) (param $nc i32)
    (local $j i32) (local $k i32) (local $ncPad i32) (local $ncFull i32) (local $s i32) (local $d i32) (local $end i32)
    (local.set $ncPad (i32.and (i32.add (local.get $nc) (i32.const {NRMASK})) (i32.const -{NR})))
    (local.set $ncFull (i32.and (local.get $nc) (i32.const -{NR})))
    ;; Transposed B (each column contiguous in k): full panels by vector transposes.
    (if (i32.and (i32.eq (local.get $rs) (i32.const {ES})) (i32.ne (local.get $cs) (i32.const {ES})))
      (then
        (call $pack_bt_{T} (local.get $src) (local.get $cs) (local.get $kc) (local.get $ncFull))
        (local.set $j (local.get $ncFull))))
    (if (i32.eq (local.get $cs) (i32.const {ES}))
      (then
        ;; Full panels: for each panel, copy 32 bytes of every row k, writing the panel in order.
        (local.set $d (global.get $base))
        (block $pdone
          (loop $panels
            (br_if $pdone (i32.ge_u (local.get $j) (local.get $ncFull)))
            (local.set $s (i32.add (local.get $src) (i32.mul (local.get $j) (i32.const {ES}))))
            (local.set $end (i32.add (local.get $d) (i32.mul (local.get $kc) (i32.const 32))))
            (loop $krows
              (v128.store (local.get $d) (v128.load (local.get $s)))
              (v128.store offset=16 (local.get $d) (v128.load offset=16 (local.get $s)))
              (local.set $s (i32.add (local.get $s) (local.get $rs)))
              (local.set $d (i32.add (local.get $d) (i32.const 32)))
              (br_if $krows (i32.lt_u (local.get $d) (local.get $end))))
            (local.set $j (i32.add (local.get $j) (i32.const {NR})))
            (br $panels)))
        (local.set $j (local.get $ncFull))))
    ;; Remaining columns (the partial last panel, or all when neither rows nor columns are
    ;; contiguous) one element at a time.
    (block $done
      (loop $cols
        (br_if $done (i32.ge_u (local.get $j) (local.get $ncPad)))
        (local.set $d (i32.add (global.get $base)
          (i32.mul (i32.add (i32.mul (i32.and (local.get $j) (i32.const -{NR})) (local.get $kc))
                            (i32.and (local.get $j) (i32.const {NRMASK})))
                   (i32.const {ES}))))
        (local.set $end (i32.add (local.get $d) (i32.mul (local.get $kc) (i32.const 32))))
        (if (i32.lt_u (local.get $j) (local.get $nc))
          (then
            (local.set $s (i32.add (local.get $src) (i32.mul (local.get $j) (local.get $cs))))
            (loop $k
              ({T}.store (local.get $d) ({T}.load (local.get $s)))
              (local.set $s (i32.add (local.get $s) (local.get $rs)))
              (local.set $d (i32.add (local.get $d) (i32.const 32)))
              (br_if $k (i32.lt_u (local.get $d) (local.get $end)))))
          (else
            (loop $z
              ({T}.store (local.get $d) ({T}.const 0))
              (local.set $d (i32.add (local.get $d) (i32.const 32)))
              (br_if $z (i32.lt_u (local.get $d) (local.get $end))))))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $cols))))

  ;; The register tile: MR rows × 2 vectors of C at c (row stride cs bytes) get
  ;; alpha · (packed A panel at a) · (packed B panel at b) over kc ≥ 1 steps, added to C when
  ;; $load is 1, stored over it when 0. For each k: load the two B vectors, then for each row splat
  ;; its A value and add its products to the row's two accumulators (c_r0, c_r1); after the loop,
  ;; multiply by alpha, add C when loading, and store. Written out by build-wasm.mjs (registerTile)
  ;; for the chosen MR, with mul and add, or with one relaxed_madd in the FMA variant.
{KERNEL}

  ;; The C tile at ctile (mc × nc, padded to the register tile) gets alpha · Apack · Bpack, with
  ;; the packed op(B) block at bpack (BPACK, or a block packed earlier and kept: see gemm.ts):
  ;; panels of B outside (one stays in L1), panels of A inside. The tile's rows are cs bytes apart
  ;; (a multiple of 32 bytes).
  (func $macro_{T} (export "macro_{T}") (param $mc i32) (param $nc i32) (param $kc i32) (param $cs i32) (param $alpha {T}) (param $load i32) (param $ctile i32) (param $bpack i32)
    (local $i i32) (local $j i32)
    (block $jdone
      (loop $jpanels
        (br_if $jdone (i32.ge_u (local.get $j) (local.get $nc)))
        (local.set $i (i32.const 0))
        (block $idone
          (loop $ipanels
            (br_if $idone (i32.ge_u (local.get $i) (local.get $mc)))
            (call $kernel_{T}
              (i32.add (i32.add (global.get $base) (i32.const 524288)) (i32.mul (i32.mul (local.get $i) (local.get $kc)) (i32.const {ES})))
              (i32.add (local.get $bpack) (i32.mul (i32.mul (local.get $j) (local.get $kc)) (i32.const {ES})))
              (i32.add (local.get $ctile)
                (i32.add (i32.mul (local.get $i) (local.get $cs)) (i32.mul (local.get $j) (i32.const {ES}))))
              (local.get $cs) (local.get $kc) (local.get $alpha) (local.get $load))
            (local.set $i (i32.add (local.get $i) (i32.const {MR})))
            (br $ipanels)))
        (local.set $j (i32.add (local.get $j) (i32.const {NR})))
        (br $jpanels))))

  ;; One thread's share of a threaded GEMM step: rows 0..mc of op(A) (element (i, k) at
  ;; a + i*ars + k*acs) times columns 0..nc of a KC×NC op(B) block (element (k, j) at
  ;; b + k*brs + j*bcs) into the C tile at c (row stride cs bytes). The B block is packed first when
  ;; packB is 1 (else the packed block from the previous call is reused); then op(A) is packed and
  ;; multiplied MC rows at a time.
  (func (export "part_{T}")
    (param $a i32) (param $ars i32) (param $acs i32) (param $mc i32)
    (param $b i32) (param $brs i32) (param $bcs i32) (param $nc i32) (param $kc i32)
    (param $c i32) (param $cs i32) (param $alpha {T}) (param $load i32) (param $packB i32)
    (local $i i32) (local $h i32)
    (if (local.get $packB)
      (then (call $pack_b_{T} (local.get $b) (local.get $brs) (local.get $bcs) (local.get $kc) (local.get $nc))))
    (block $done
      (loop $blocks
        (br_if $done (i32.ge_u (local.get $i) (local.get $mc)))
        (local.set $h (i32.sub (local.get $mc) (local.get $i)))
        (if (i32.gt_u (local.get $h) (i32.const {MC})) (then (local.set $h (i32.const {MC}))))
        (call $pack_a_{T} (i32.add (local.get $a) (i32.mul (local.get $i) (local.get $ars)))
          (local.get $ars) (local.get $acs) (local.get $h) (local.get $kc))
        (call $macro_{T} (local.get $h) (local.get $nc) (local.get $kc) (local.get $cs) (local.get $alpha) (local.get $load)
          (i32.add (local.get $c) (i32.mul (local.get $i) (local.get $cs))) (global.get $base))
        (local.set $i (i32.add (local.get $i) (i32.const {MC})))
        (br $blocks))))

  ;; TEMPLATE-END

  ;; Full NR=8 panels of a transposed op(B) block (column j of op(B) contiguous at src + j*cs):
  ;; 4 k × 4 columns at a time, transposed with shuffles; the last kc mod 4 rows one by one.
  (func $pack_bt_f32 (param $src i32) (param $cs i32) (param $kc i32) (param $ncFull i32)
    (local $j i32) (local $k i32) (local $kc4 i32) (local $d i32)
    (local $r0 i32) (local $r1 i32) (local $r2 i32) (local $r3 i32) (local $r4 i32) (local $r5 i32) (local $r6 i32) (local $r7 i32)
    (local $x0 v128) (local $x1 v128) (local $x2 v128) (local $x3 v128)
    (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128)
    (local.set $kc4 (i32.and (local.get $kc) (i32.const -4)))
    (block $done
      (loop $panels
        (br_if $done (i32.ge_u (local.get $j) (local.get $ncFull)))
        (local.set $d (i32.add (global.get $base) (i32.mul (i32.mul (local.get $j) (local.get $kc)) (i32.const 4))))
        (local.set $r0 (i32.add (local.get $src) (i32.mul (local.get $j) (local.get $cs))))
        (local.set $r1 (i32.add (local.get $r0) (local.get $cs)))
        (local.set $r2 (i32.add (local.get $r1) (local.get $cs)))
        (local.set $r3 (i32.add (local.get $r2) (local.get $cs)))
        (local.set $r4 (i32.add (local.get $r3) (local.get $cs)))
        (local.set $r5 (i32.add (local.get $r4) (local.get $cs)))
        (local.set $r6 (i32.add (local.get $r5) (local.get $cs)))
        (local.set $r7 (i32.add (local.get $r6) (local.get $cs)))
        (local.set $k (i32.const 0))
        (block $kdone
          (loop $kblocks
            (br_if $kdone (i32.ge_u (local.get $k) (local.get $kc4)))
            (local.set $x0 (v128.load (local.get $r0)))
            (local.set $x1 (v128.load (local.get $r1)))
            (local.set $x2 (v128.load (local.get $r2)))
            (local.set $x3 (v128.load (local.get $r3)))
            (local.set $t0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $x0) (local.get $x1)))
            (local.set $t1 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $x2) (local.get $x3)))
            (local.set $t2 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $x0) (local.get $x1)))
            (local.set $t3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $x2) (local.get $x3)))
            (v128.store offset=0 (local.get $d) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t1)))
            (v128.store offset=32 (local.get $d) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t1)))
            (v128.store offset=64 (local.get $d) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t2) (local.get $t3)))
            (v128.store offset=96 (local.get $d) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t2) (local.get $t3)))
            (local.set $x0 (v128.load (local.get $r4)))
            (local.set $x1 (v128.load (local.get $r5)))
            (local.set $x2 (v128.load (local.get $r6)))
            (local.set $x3 (v128.load (local.get $r7)))
            (local.set $t0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $x0) (local.get $x1)))
            (local.set $t1 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $x2) (local.get $x3)))
            (local.set $t2 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $x0) (local.get $x1)))
            (local.set $t3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $x2) (local.get $x3)))
            (v128.store offset=16 (local.get $d) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t1)))
            (v128.store offset=48 (local.get $d) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t1)))
            (v128.store offset=80 (local.get $d) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t2) (local.get $t3)))
            (v128.store offset=112 (local.get $d) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t2) (local.get $t3)))
            (local.set $r0 (i32.add (local.get $r0) (i32.const 16)))
            (local.set $r1 (i32.add (local.get $r1) (i32.const 16)))
            (local.set $r2 (i32.add (local.get $r2) (i32.const 16)))
            (local.set $r3 (i32.add (local.get $r3) (i32.const 16)))
            (local.set $r4 (i32.add (local.get $r4) (i32.const 16)))
            (local.set $r5 (i32.add (local.get $r5) (i32.const 16)))
            (local.set $r6 (i32.add (local.get $r6) (i32.const 16)))
            (local.set $r7 (i32.add (local.get $r7) (i32.const 16)))
            (local.set $d (i32.add (local.get $d) (i32.const 128)))
            (local.set $k (i32.add (local.get $k) (i32.const 4)))
            (br $kblocks)))
        (block $tdone
          (loop $tail
            (br_if $tdone (i32.ge_u (local.get $k) (local.get $kc)))
            (f32.store offset=0 (local.get $d) (f32.load (local.get $r0)))
            (f32.store offset=4 (local.get $d) (f32.load (local.get $r1)))
            (f32.store offset=8 (local.get $d) (f32.load (local.get $r2)))
            (f32.store offset=12 (local.get $d) (f32.load (local.get $r3)))
            (f32.store offset=16 (local.get $d) (f32.load (local.get $r4)))
            (f32.store offset=20 (local.get $d) (f32.load (local.get $r5)))
            (f32.store offset=24 (local.get $d) (f32.load (local.get $r6)))
            (f32.store offset=28 (local.get $d) (f32.load (local.get $r7)))
            (local.set $r0 (i32.add (local.get $r0) (i32.const 4)))
            (local.set $r1 (i32.add (local.get $r1) (i32.const 4)))
            (local.set $r2 (i32.add (local.get $r2) (i32.const 4)))
            (local.set $r3 (i32.add (local.get $r3) (i32.const 4)))
            (local.set $r4 (i32.add (local.get $r4) (i32.const 4)))
            (local.set $r5 (i32.add (local.get $r5) (i32.const 4)))
            (local.set $r6 (i32.add (local.get $r6) (i32.const 4)))
            (local.set $r7 (i32.add (local.get $r7) (i32.const 4)))
            (local.set $d (i32.add (local.get $d) (i32.const 32)))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br $tail)))
        (local.set $j (i32.add (local.get $j) (i32.const 8)))
        (br $panels))))

  ;; Full NR=4 panels of a transposed op(B) block, float64: 2 k × 2 columns at a time.
  (func $pack_bt_f64 (param $src i32) (param $cs i32) (param $kc i32) (param $ncFull i32)
    (local $j i32) (local $k i32) (local $kc2 i32) (local $d i32)
    (local $r0 i32) (local $r1 i32) (local $r2 i32) (local $r3 i32)
    (local $x0 v128) (local $x1 v128)
    (local.set $kc2 (i32.and (local.get $kc) (i32.const -2)))
    (block $done
      (loop $panels
        (br_if $done (i32.ge_u (local.get $j) (local.get $ncFull)))
        (local.set $d (i32.add (global.get $base) (i32.mul (i32.mul (local.get $j) (local.get $kc)) (i32.const 8))))
        (local.set $r0 (i32.add (local.get $src) (i32.mul (local.get $j) (local.get $cs))))
        (local.set $r1 (i32.add (local.get $r0) (local.get $cs)))
        (local.set $r2 (i32.add (local.get $r1) (local.get $cs)))
        (local.set $r3 (i32.add (local.get $r2) (local.get $cs)))
        (local.set $k (i32.const 0))
        (block $kdone
          (loop $kblocks
            (br_if $kdone (i32.ge_u (local.get $k) (local.get $kc2)))
            (local.set $x0 (v128.load (local.get $r0)))
            (local.set $x1 (v128.load (local.get $r1)))
            (v128.store offset=0 (local.get $d) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $x0) (local.get $x1)))
            (v128.store offset=32 (local.get $d) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $x0) (local.get $x1)))
            (local.set $x0 (v128.load (local.get $r2)))
            (local.set $x1 (v128.load (local.get $r3)))
            (v128.store offset=16 (local.get $d) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $x0) (local.get $x1)))
            (v128.store offset=48 (local.get $d) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $x0) (local.get $x1)))
            (local.set $r0 (i32.add (local.get $r0) (i32.const 16)))
            (local.set $r1 (i32.add (local.get $r1) (i32.const 16)))
            (local.set $r2 (i32.add (local.get $r2) (i32.const 16)))
            (local.set $r3 (i32.add (local.get $r3) (i32.const 16)))
            (local.set $d (i32.add (local.get $d) (i32.const 64)))
            (local.set $k (i32.add (local.get $k) (i32.const 2)))
            (br $kblocks)))
        (if (i32.lt_u (local.get $k) (local.get $kc))
          (then
            (f64.store offset=0 (local.get $d) (f64.load (local.get $r0)))
            (f64.store offset=8 (local.get $d) (f64.load (local.get $r1)))
            (f64.store offset=16 (local.get $d) (f64.load (local.get $r2)))
            (f64.store offset=24 (local.get $d) (f64.load (local.get $r3)))
))
        (local.set $j (i32.add (local.get $j) (i32.const 4)))
        (br $panels))))
)
