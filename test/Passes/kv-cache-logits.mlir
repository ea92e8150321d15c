// RUN: mu-opt %s --mu-kv-cache -mlir-print-debuginfo | FileCheck %s

// Logits from the LM head after the final norm: @main keeps every position;
// the cached programs gather the last position before the norm and return
// [1, 1, vocab]. The norm and the head keep their names.
// CHECK-LABEL: func.func @main(
// CHECK-SAME: -> (tensor<1x?x5xf32>
// CHECK-NOT: mu.gather
// CHECK-LABEL: func.func @prefill(
// CHECK-SAME: -> (tensor<1x1x5xf32> {mu.name = "logits"}
// CHECK: %[[I:.*]] = mu.constant dense<-1> : tensor<1xi64>
// CHECK: %[[L:.*]] = mu.gather %{{.*}}[%[[I]]] <{axis = 1 : i64}> : tensor<1x?x8xf32>, tensor<1xi64>
// CHECK: %[[N:.*]] = mu.rms_norm %[[L]] weight({{.*}}) {{.*}} : tensor<1x1x8xf32> loc(#[[NORM:.*]])
// CHECK: %[[H:.*]] = mu.linear %[[N]], {{.*}} : tensor<1x1x8xf32>, tensor<5x8xf32> loc(#[[HEAD:.*]])
// CHECK: return %[[H]],
// CHECK-LABEL: func.func @decode(
// CHECK-SAME: -> (tensor<1x1x5xf32> {mu.name = "logits"}
// CHECK-DAG: #[[NORM]] = loc("model.norm")
// CHECK-DAG: #[[HEAD]] = loc("lm_head")
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
