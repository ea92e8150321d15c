// RUN: mu-opt %s --mu-fuse-attention --split-input-file | FileCheck %s

// GQA as torch.onnx exports LLaMA attention: repeat_kv (reshape, expand,
// reshape), q k^T * scale, causal mask from a range comparison, softmax, * v.
// CHECK-LABEL: func.func @gqa_causal
// CHECK-SAME: (%[[Q:.*]]: tensor<1x8x?x16xf32>, %[[K:.*]]: tensor<1x2x?x16xf32>, %[[V:.*]]: tensor<1x2x?x16xf32>
// CHECK: %[[A:.*]] = mu.attention %[[Q]], %[[K]], %[[V]] {causal = true, scale = 2.500000e-01 : f32}
// CHECK-NOT: mu.softmax
// CHECK: return %[[A]]
func.func @gqa_causal(%q: tensor<1x8x?x16xf32>, %k: tensor<1x2x?x16xf32>, %v: tensor<1x2x?x16xf32>, %n: tensor<i64>) -> tensor<1x8x?x16xf32> {
  %zero = mu.constant dense<0> : tensor<i64>
  %one = mu.constant dense<1> : tensor<i64>
  %r = mu.range %zero, %n, %one : tensor<i64>, tensor<i64>, tensor<i64> -> tensor<?xi64>
  %row = mu.reshape %r : tensor<?xi64> -> tensor<?x1xi64>
  %col = mu.reshape %r : tensor<?xi64> -> tensor<1x?xi64>
  %future = mu.greater %col, %row : tensor<1x?xi64>, tensor<?x1xi64>
  %k5 = mu.reshape %k : tensor<1x2x?x16xf32> -> tensor<1x2x1x?x16xf32>
  %ke = mu.broadcast_to %k5 : tensor<1x2x1x?x16xf32> -> tensor<1x2x4x?x16xf32>
  %kr = mu.reshape %ke : tensor<1x2x4x?x16xf32> -> tensor<1x8x?x16xf32>
  %v5 = mu.reshape %v : tensor<1x2x?x16xf32> -> tensor<1x2x1x?x16xf32>
  %ve = mu.broadcast_to %v5 : tensor<1x2x1x?x16xf32> -> tensor<1x2x4x?x16xf32>
  %vr = mu.reshape %ve : tensor<1x2x4x?x16xf32> -> tensor<1x8x?x16xf32>
  %kt = mu.transpose %kr [0, 1, 3, 2] : tensor<1x8x?x16xf32>
  %s = mu.matmul %q, %kt : tensor<1x8x?x16xf32>, tensor<1x8x16x?xf32>
  %scale = mu.constant dense<0.25> : tensor<f32>
  %ss = mu.mul %s, %scale : tensor<1x8x?x?xf32>, tensor<f32>
  %ninf = mu.constant dense<0xFF800000> : tensor<f32>
  %m = mu.where %future, %ninf, %ss : tensor<?x?xi1>, tensor<f32>, tensor<1x8x?x?xf32>
  %p = mu.softmax %m {axis = -1 : i64} : tensor<1x8x?x?xf32>
  %o = mu.matmul %p, %vr : tensor<1x8x?x?xf32>, tensor<1x8x?x16xf32>
  return %o : tensor<1x8x?x16xf32>
}

// -----

// Cross-attention (encoder K/V, no mask), scale as a division by sqrt(d).
// CHECK-LABEL: func.func @cross_attention
// CHECK: mu.attention %arg0, %arg1, %arg2 {causal = false, scale = 1.250000e-01 : f32}
func.func @cross_attention(%q: tensor<1x6x?x64xf32>, %k: tensor<1x6x?x64xf32>, %v: tensor<1x6x?x64xf32>) -> tensor<1x6x?x64xf32> {
  %kt = mu.transpose %k [0, 1, 3, 2] : tensor<1x6x?x64xf32>
  %s = mu.matmul %q, %kt : tensor<1x6x?x64xf32>, tensor<1x6x64x?xf32>
  %d = mu.constant dense<8.0> : tensor<f32>
  %ss = mu.div %s, %d : tensor<1x6x?x?xf32>, tensor<f32>
  %p = mu.softmax %ss {axis = 3 : i64} : tensor<1x6x?x?xf32>
  %o = mu.matmul %p, %v : tensor<1x6x?x?xf32>, tensor<1x6x?x64xf32>
  return %o : tensor<1x6x?x64xf32>
}

// -----

// An arbitrary additive mask (padding) is kept as the mask operand.
// CHECK-LABEL: func.func @additive_mask
// CHECK: mu.attention %arg0, %arg1, %arg2 mask(%arg3 : tensor<1x1x4x4xf32>) {causal = false
func.func @additive_mask(%q: tensor<1x2x4x8xf32>, %k: tensor<1x2x4x8xf32>, %v: tensor<1x2x4x8xf32>, %mask: tensor<1x1x4x4xf32>) -> tensor<1x2x4x8xf32> {
  %kt = mu.transpose %k [0, 1, 3, 2] : tensor<1x2x4x8xf32>
  %s = mu.matmul %q, %kt : tensor<1x2x4x8xf32>, tensor<1x2x8x4xf32>
  %c = mu.constant dense<0.353553385> : tensor<f32>
  %ss = mu.mul %s, %c : tensor<1x2x4x4xf32>, tensor<f32>
  %sm = mu.add %ss, %mask : tensor<1x2x4x4xf32>, tensor<1x1x4x4xf32>
  %p = mu.softmax %sm {axis = -1 : i64} : tensor<1x2x4x4xf32>
  %o = mu.matmul %p, %v : tensor<1x2x4x4xf32>, tensor<1x2x4x8xf32>
  return %o : tensor<1x2x4x8xf32>
}

// -----

// Softmax over the wrong axis is not attention.
// CHECK-LABEL: func.func @wrong_softmax_axis
// CHECK-NOT: mu.attention
func.func @wrong_softmax_axis(%q: tensor<1x2x4x8xf32>, %k: tensor<1x2x4x8xf32>, %v: tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32> {
  %kt = mu.transpose %k [0, 1, 3, 2] : tensor<1x2x4x8xf32>
  %s = mu.matmul %q, %kt : tensor<1x2x4x8xf32>, tensor<1x2x8x4xf32>
  %p = mu.softmax %s {axis = 2 : i64} : tensor<1x2x4x4xf32>
  %o = mu.matmul %p, %v : tensor<1x2x4x4xf32>, tensor<1x2x4x8xf32>
  return %o : tensor<1x2x4x8xf32>
}
