// RUN: mu-opt %s --mu-kv-cache | FileCheck %s

// A decoder: positions from range(0, seq), one causal attention.
// CHECK-LABEL: func.func @main(%arg0: tensor<1x?xi64>
// CHECK: mu.attention {{.*}} {causal = true
// CHECK-NOT: past

// prefill: position argument, cache state in and out, range starts at position.
// CHECK-LABEL: func.func @prefill(
// CHECK-SAME: %[[IDS:.*]]: tensor<1x?xi64> {mu.name = "input_ids"},
// CHECK-SAME: %[[POS:.*]]: tensor<i64> {mu.dim_names = [], mu.name = "position"},
// CHECK-SAME: %[[K:.*]]: tensor<1x2x?x4xf32> {mu.name = "k_cache_0", mu.state = "k_cache_0"},
// CHECK-SAME: %[[V:.*]]: tensor<1x2x?x4xf32> {mu.name = "v_cache_0", mu.state = "v_cache_0"})
// CHECK-SAME: -> (tensor<1x2x?x4xf32> {mu.name = "out"}, tensor<1x2x?x4xf32> {mu.name = "k_cache_0", mu.state = "k_cache_0"}, tensor<1x2x?x4xf32> {mu.name = "v_cache_0", mu.state = "v_cache_0"})
// CHECK: %[[N:.*]] = mu.dim %[[IDS]][1]
// CHECK: %[[END:.*]] = mu.add %[[POS]], %[[N]]
// CHECK: mu.range %[[POS]], %[[END]], %{{.*}}
// CHECK: %[[O:.*]], %[[P:.*]]:2 = mu.attention %{{.*}}, %{{.*}}, %{{.*}} past(%[[K]], %[[V]] : {{.*}}) {causal = true
// CHECK: return %[[O]], %[[P]]#0, %[[P]]#1

// decode: the same program, planned for one token per call.
// CHECK-LABEL: func.func @decode(
// CHECK-SAME: attributes {mu.max_seq = 1 : i64}
func.func @main(%ids: tensor<1x?xi64> {mu.name = "input_ids"}) -> (tensor<1x2x?x4xf32> {mu.name = "out"}) {
  %n = mu.dim %ids[1] : tensor<1x?xi64>
  %z = mu.constant dense<0> : tensor<i64>
  %one = mu.constant dense<1> : tensor<i64>
  %r = mu.range %z, %n, %one : tensor<i64>, tensor<i64>, tensor<i64> -> tensor<?xi64>
  %rf = mu.cast %r : tensor<?xi64> -> tensor<?xf32>
  %c = mu.reshape %rf : tensor<?xf32> -> tensor<1x1x?x1xf32>
  %q = mu.broadcast_to %c : tensor<1x1x?x1xf32> -> tensor<1x2x?x4xf32>
  %o = mu.attention %q, %q, %q {causal = true, scale = 0.5 : f32} : tensor<1x2x?x4xf32>, tensor<1x2x?x4xf32>, tensor<1x2x?x4xf32> -> tensor<1x2x?x4xf32>
  return %o : tensor<1x2x?x4xf32>
}
