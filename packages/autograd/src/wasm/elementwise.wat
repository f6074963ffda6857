;; WebAssembly SIMD elementwise kernels for seqgrad: a ⊙ b for ⊙ in add, mul, div over
;; float32 (f32x4) and float64 (f64x2), with both operands full arrays or one of them a single
;; value, and rows folded into one accumulator row (with add: a sum over leading axes). These are IEEE operations, so every result equals the TypeScript loop's
;; bit for bit (float32: the double result of two float32 values, rounded to float32, is the
;; correctly rounded float32 operation).
;;
;; This file is a template. `pnpm build:wasm` (packages/autograd/scripts/build-wasm.mjs)
;; expands the part between TEMPLATE-BEGIN and TEMPLATE-END once per element type and
;; operation and the part between ROWS-BEGIN and ROWS-END once per element type, assembles
;; the module with wabt and writes elementwiseBytes.generated.ts next to this file; a test
;; checks that file is up to date. Placeholders: {T} scalar type, {V} vector
;; shape, {ES} element bytes, {LOG} log2 of element bytes, {OP} operation.
;;
;; The JavaScript side (elementwise.ts) copies up to CHUNK values of a into the area at byte 0 and
;; of b into the area at byte 65536, calls the kernel, which writes the result over a's area,
;; and copies it out. The memory (2 pages) never grows.
(module
  (memory (export "memory") 2 2)

  ;; TEMPLATE-BEGIN

  ;; a[i] = a[i] {OP} b[i] for i < n (a at byte 0, b at byte 65536).
  (func (export "{OP}_vv_{T}") (param $n i32)
    (local $p i32) (local $end i32) (local $vend i32)
    (local.set $end (i32.shl (local.get $n) (i32.const {LOG})))
    (local.set $vend (i32.and (local.get $end) (i32.const -16)))
    (block $vdone
      (loop $v
        (br_if $vdone (i32.ge_u (local.get $p) (local.get $vend)))
        (v128.store (local.get $p) ({V}.{OP} (v128.load (local.get $p)) (v128.load offset=65536 (local.get $p))))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (br $v)))
    (block $done
      (loop $s
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        ({T}.store (local.get $p) ({T}.{OP} ({T}.load (local.get $p)) ({T}.load offset=65536 (local.get $p))))
        (local.set $p (i32.add (local.get $p) (i32.const {ES})))
        (br $s))))

  ;; a[i] = a[i] {OP} s for i < n.
  (func (export "{OP}_vs_{T}") (param $n i32) (param $s {T})
    (local $p i32) (local $end i32) (local $vend i32) (local $sv v128)
    (local.set $sv ({V}.splat (local.get $s)))
    (local.set $end (i32.shl (local.get $n) (i32.const {LOG})))
    (local.set $vend (i32.and (local.get $end) (i32.const -16)))
    (block $vdone
      (loop $v
        (br_if $vdone (i32.ge_u (local.get $p) (local.get $vend)))
        (v128.store (local.get $p) ({V}.{OP} (v128.load (local.get $p)) (local.get $sv)))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (br $v)))
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        ({T}.store (local.get $p) ({T}.{OP} ({T}.load (local.get $p)) (local.get $s)))
        (local.set $p (i32.add (local.get $p) (i32.const {ES})))
        (br $l))))

  ;; a[i] = s {OP} a[i] for i < n.
  (func (export "{OP}_sv_{T}") (param $n i32) (param $s {T})
    (local $p i32) (local $end i32) (local $vend i32) (local $sv v128)
    (local.set $sv ({V}.splat (local.get $s)))
    (local.set $end (i32.shl (local.get $n) (i32.const {LOG})))
    (local.set $vend (i32.and (local.get $end) (i32.const -16)))
    (block $vdone
      (loop $v
        (br_if $vdone (i32.ge_u (local.get $p) (local.get $vend)))
        (v128.store (local.get $p) ({V}.{OP} (local.get $sv) (v128.load (local.get $p))))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (br $v)))
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        ({T}.store (local.get $p) ({T}.{OP} (local.get $s) ({T}.load (local.get $p))))
        (local.set $p (i32.add (local.get $p) (i32.const {ES})))
        (br $l))))

  ;; TEMPLATE-END

  ;; ROWS-BEGIN

  ;; acc[j] = acc[j] + a[r·cols + j] for r < rows, j < cols, row after row (acc at byte 65536,
  ;; the rows at byte 0): the sum over leading axes that a broadcast's gradient needs.
  (func (export "add_rows_{T}") (param $rows i32) (param $cols i32)
    (local $r i32) (local $p i32) (local $q i32) (local $rowEnd i32) (local $vend i32) (local $bytes i32)
    (local.set $bytes (i32.shl (local.get $cols) (i32.const {LOG})))
    (block $rdone
      (loop $rl
        (br_if $rdone (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $q (i32.const 65536))
        (local.set $rowEnd (i32.add (local.get $p) (local.get $bytes)))
        (local.set $vend (i32.add (local.get $p) (i32.and (local.get $bytes) (i32.const -16))))
        (block $vdone
          (loop $v
            (br_if $vdone (i32.ge_u (local.get $p) (local.get $vend)))
            (v128.store (local.get $q) ({V}.add (v128.load (local.get $q)) (v128.load (local.get $p))))
            (local.set $p (i32.add (local.get $p) (i32.const 16)))
            (local.set $q (i32.add (local.get $q) (i32.const 16)))
            (br $v)))
        (block $sdone
          (loop $s
            (br_if $sdone (i32.ge_u (local.get $p) (local.get $rowEnd)))
            ({T}.store (local.get $q) ({T}.add ({T}.load (local.get $q)) ({T}.load (local.get $p))))
            (local.set $p (i32.add (local.get $p) (i32.const {ES})))
            (local.set $q (i32.add (local.get $q) (i32.const {ES})))
            (br $s)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rl))))

  ;; ROWS-END
)
