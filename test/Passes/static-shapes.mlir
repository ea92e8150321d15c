// RUN: mu-opt %s --mu-kv-cache --mu-static-shapes="prefill-chunk=4 max-context=16" | FileCheck %s
// RUN: not mu-opt %s --mu-kv-cache --mu-static-shapes="prefill-chunk=32 max-context=16" 2>&1 | FileCheck %s --check-prefix=BIG

// @main (full-sequence evaluation) keeps its dynamic sequence.
// CHECK-LABEL: func.func @main(
// CHECK-SAME: tensor<1x?xi64>

// prefill: a fixed chunk of 4 ids and its valid length; the caches hold the
// whole context (16 rows) and attention writes them in place at `position`.
// CHECK-LABEL: func.func @prefill(
// CHECK-SAME: %{{.*}}: tensor<1x4xi64> {mu.name = "input_ids"},
// CHECK-SAME: %[[POS:[^:]*]]: tensor<i64> {mu.dim_names = [], mu.name = "position"},
// CHECK-SAME: %[[LEN:[^:]*]]: tensor<i64> {mu.dim_names = [], mu.name = "length"},
// CHECK-SAME: %[[K:[^:]*]]: tensor<1x2x16x4xf32> {mu.name = "k_cache_0", mu.state = "k_cache_0"},
// CHECK-SAME: -> (tensor<1x1x5xf32> {mu.name = "logits"}, tensor<1x2x16x4xf32> {mu.name = "k_cache_0", mu.state = "k_cache_0"}
// CHECK-SAME: attributes {mu.max_seq = 4 : i64, mu.static}
// Sizes of static dims are constants; the position range has the chunk's length.
// CHECK-NOT: mu.dim
// CHECK: mu.range %[[POS]], %{{.*}}, %{{.*}} -> tensor<4xi64>
// CHECK: mu.broadcast_to {{.*}} -> tensor<1x2x4x4xf32>
// CHECK: mu.attention {{.*}} past(%[[K]], %{{.*}}) at(%[[POS]] : tensor<i64>) {{.*}} -> tensor<1x2x4x4xf32>, tensor<1x2x16x4xf32>, tensor<1x2x16x4xf32>
// The last valid row (length - 1), not the last padded one, feeds the head.
// CHECK: %[[ONE:.*]] = mu.constant dense<1> : tensor<i64>
// CHECK: %[[L1:.*]] = mu.sub %[[LEN]], %[[ONE]]
// CHECK: %[[IDX:.*]] = mu.reshape %[[L1]] : tensor<i64> -> tensor<1xi64>
// CHECK: mu.gather %{{.*}}[%[[IDX]]] <{axis = 1 : i64}> : tensor<1x4x8xf32>
// CHECK: mu.linear {{.*}} : tensor<1x1x8xf32>, tensor<5x8xf32>

// decode: one token, no length input, the same in-place cache.
// CHECK-LABEL: func.func @decode(
// CHECK-SAME: tensor<1x1xi64> {mu.name = "input_ids"}, %{{[^:]*}}: tensor<i64> {mu.dim_names = [], mu.name = "position"}, %{{[^:]*}}: tensor<1x2x16x4xf32>
// CHECK-SAME: attributes {mu.max_seq = 1 : i64, mu.static}
// CHECK: mu.attention {{.*}} at(

// BIG: error: mu-static-shapes: need 1 <= prefill-chunk <= max-context (got 32, 16)
func.func @main(%ids: tensor<1x?xi64> {mu.name = "input_ids"}) -> (tensor<1x?x5xf32> {mu.name = "logits"}) {
  %n = mu.dim %ids[1] : tensor<1x?xi64>
  %z = mu.constant dense<0> : tensor<i64>
  %one = mu.constant dense<1> : tensor<i64>
  %r = mu.range %z, %n, %one : tensor<i64>, tensor<i64>, tensor<i64> -> tensor<?xi64>
  %rf = mu.cast %r : tensor<?xi64> -> tensor<?xf32>
  %c = mu.reshape %rf : tensor<?xf32> -> tensor<1x1x?x1xf32>
  %q = mu.broadcast_to %c : tensor<1x1x?x1xf32> -> tensor<1x2x?x4xf32>
  %o = mu.attention %q, %q, %q {causal = true, scale = 0.5 : f32} : tensor<1x2x?x4xf32>, tensor<1x2x?x4xf32>, tensor<1x2x?x4xf32> -> tensor<1x2x?x4xf32>
  %t = mu.transpose %o [0, 2, 1, 3] : tensor<1x2x?x4xf32>
  %h = mu.reshape %t : tensor<1x?x2x4xf32> -> tensor<1x?x8xf32>
  %g = mu.constant dense<1.0> : tensor<8xf32>
  %nh = mu.rms_norm %h weight(%g : tensor<8xf32>) {epsilon = 1.0e-5 : f32} : tensor<1x?x8xf32> loc("model.norm")
  %w = mu.constant dense<0.5> : tensor<5x8xf32>
  %l = mu.linear %nh, %w : tensor<1x?x8xf32>, tensor<5x8xf32> loc("lm_head")
  return %l : tensor<1x?x5xf32>
}
