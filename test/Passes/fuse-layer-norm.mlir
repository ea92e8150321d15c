// RUN: mu-opt %s --mu-fuse-layer-norm --split-input-file | FileCheck %s

// Decomposed LayerNorm with weight and bias (torch export before opset 17).
// CHECK-LABEL: func.func @layer_norm
// CHECK-SAME: (%[[X:.*]]: tensor<1x?x32xf32>, %[[W:.*]]: tensor<32xf32>, %[[B:.*]]: tensor<32xf32>)
// CHECK: %[[N:.*]] = mu.layer_norm %[[X]] weight(%[[W]] : tensor<32xf32>) bias(%[[B]] : tensor<32xf32>) {epsilon = 9.99999974E-6 : f32}
// CHECK-NEXT: return %[[N]]
func.func @layer_norm(%x: tensor<1x?x32xf32>, %w: tensor<32xf32>, %b: tensor<32xf32>) -> tensor<1x?x32xf32> {
  %two = mu.constant dense<2.0> : tensor<f32>
  %eps = mu.constant dense<1.0e-5> : tensor<f32>
  %mean = mu.reduce_mean %x [-1] <{keepdims = true}> : tensor<1x?x32xf32>
  %d = mu.sub %x, %mean : tensor<1x?x32xf32>, tensor<1x?x1xf32>
  %p = mu.pow %d, %two : tensor<1x?x32xf32>, tensor<f32>
  %var = mu.reduce_mean %p [-1] <{keepdims = true}> : tensor<1x?x32xf32>
  %a = mu.add %var, %eps : tensor<1x?x1xf32>, tensor<f32>
  %s = mu.sqrt %a : tensor<1x?x1xf32>
  %n = mu.div %d, %s : tensor<1x?x32xf32>, tensor<1x?x1xf32>
  %y = mu.mul %n, %w : tensor<1x?x32xf32>, tensor<32xf32>
  %z = mu.add %y, %b : tensor<1x?x32xf32>, tensor<32xf32>
  return %z : tensor<1x?x32xf32>
}

// -----

// Dual LayerNorm (Mu): norm before and after the sub-layer, residual around
// both. The two centered values are separate ops (no CSE ran).
// CHECK-LABEL: func.func @dual_layer_norm
// CHECK: %[[PRE:.*]] = mu.layer_norm %arg0 weight(%arg1
// CHECK: %[[H:.*]] = mu.gelu %[[PRE]]
// CHECK: %[[POST:.*]] = mu.layer_norm %[[H]] weight(%arg2
// CHECK: mu.add %arg0, %[[POST]]
// CHECK-NOT: mu.reduce_mean
func.func @dual_layer_norm(%x: tensor<4x16xf32>, %w1: tensor<16xf32>, %w2: tensor<16xf32>) -> tensor<4x16xf32> {
  %eps = mu.constant dense<1.0e-5> : tensor<f32>
  %m1 = mu.reduce_mean %x [-1] <{keepdims = true}> : tensor<4x16xf32>
  %d1 = mu.sub %x, %m1 : tensor<4x16xf32>, tensor<4x1xf32>
  %d1b = mu.sub %x, %m1 : tensor<4x16xf32>, tensor<4x1xf32>
  %q1 = mu.mul %d1b, %d1b : tensor<4x16xf32>, tensor<4x16xf32>
  %v1 = mu.reduce_mean %q1 [-1] <{keepdims = true}> : tensor<4x16xf32>
  %a1 = mu.add %v1, %eps : tensor<4x1xf32>, tensor<f32>
  %r1 = mu.rsqrt %a1 : tensor<4x1xf32>
  %n1 = mu.mul %d1, %r1 : tensor<4x16xf32>, tensor<4x1xf32>
  %pre = mu.mul %n1, %w1 : tensor<4x16xf32>, tensor<16xf32>
  %h = mu.gelu %pre : tensor<4x16xf32>
  %m2 = mu.reduce_mean %h [-1] <{keepdims = true}> : tensor<4x16xf32>
  %d2 = mu.sub %h, %m2 : tensor<4x16xf32>, tensor<4x1xf32>
  %q2 = mu.mul %d2, %d2 : tensor<4x16xf32>, tensor<4x16xf32>
  %v2 = mu.reduce_mean %q2 [-1] <{keepdims = true}> : tensor<4x16xf32>
  %a2 = mu.add %v2, %eps : tensor<4x1xf32>, tensor<f32>
  %r2 = mu.rsqrt %a2 : tensor<4x1xf32>
  %n2 = mu.mul %d2, %r2 : tensor<4x16xf32>, tensor<4x1xf32>
  %post = mu.mul %w2, %n2 : tensor<16xf32>, tensor<4x16xf32>
  %y = mu.add %x, %post : tensor<4x16xf32>, tensor<4x16xf32>
  return %y : tensor<4x16xf32>
}
