// RUN: mu-opt %s --mu-fuse-rms-norm --split-input-file | FileCheck %s

// torch.onnx export of LlamaRMSNorm: pow, reduce_mean, add eps, sqrt, 1/x, mul, weight * x.
// CHECK-LABEL: func.func @llama_export
// CHECK-SAME: (%[[X:.*]]: tensor<1x?x64xf32>, %[[W:.*]]: tensor<64xf32>)
// CHECK: %[[N:.*]] = mu.rms_norm %[[X]] weight(%[[W]] : tensor<64xf32>) {epsilon = 9.99999974E-6 : f32}
// CHECK-NOT: mu.pow
// CHECK-NOT: mu.reduce_mean
// CHECK: return %[[N]]
func.func @llama_export(%x: tensor<1x?x64xf32>, %w: tensor<64xf32>) -> tensor<1x?x64xf32> {
  %two = mu.constant dense<2.0> : tensor<f32>
  %eps = mu.constant dense<1.0e-5> : tensor<f32>
  %one = mu.constant dense<1.0> : tensor<f32>
  %p = mu.pow %x, %two : tensor<1x?x64xf32>, tensor<f32>
  %m = mu.reduce_mean %p [-1] <{keepdims = true}> : tensor<1x?x64xf32>
  %a = mu.add %m, %eps : tensor<1x?x1xf32>, tensor<f32>
  %s = mu.sqrt %a : tensor<1x?x1xf32>
  %r = mu.div %one, %s : tensor<f32>, tensor<1x?x1xf32>
  %n = mu.mul %x, %r : tensor<1x?x64xf32>, tensor<1x?x1xf32>
  %y = mu.mul %w, %n : tensor<64xf32>, tensor<1x?x64xf32>
  return %y : tensor<1x?x64xf32>
}

// -----

// x * x, rsqrt, and no weight: the norm alone.
// CHECK-LABEL: func.func @rsqrt_no_weight
// CHECK: mu.rms_norm %{{.*}} {epsilon = 9.99999997E-7 : f32} : tensor<2x8xf32>
// CHECK-NOT: mu.rsqrt
func.func @rsqrt_no_weight(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %eps = mu.constant dense<1.0e-6> : tensor<f32>
  %sq = mu.mul %x, %x : tensor<2x8xf32>, tensor<2x8xf32>
  %m = mu.reduce_mean %sq [1] <{keepdims = true}> : tensor<2x8xf32>
  %a = mu.add %eps, %m : tensor<f32>, tensor<2x1xf32>
  %r = mu.rsqrt %a : tensor<2x1xf32>
  %n = mu.mul %r, %x : tensor<2x1xf32>, tensor<2x8xf32>
  return %n : tensor<2x8xf32>
}

// -----

// Mean over a non-last axis is not RMSNorm.
// CHECK-LABEL: func.func @wrong_axis
// CHECK-NOT: mu.rms_norm
func.func @wrong_axis(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %eps = mu.constant dense<1.0e-6> : tensor<f32>
  %sq = mu.mul %x, %x : tensor<2x8xf32>, tensor<2x8xf32>
  %m = mu.reduce_mean %sq [0] <{keepdims = true}> : tensor<2x8xf32>
  %a = mu.add %m, %eps : tensor<1x8xf32>, tensor<f32>
  %r = mu.rsqrt %a : tensor<1x8xf32>
  %n = mu.mul %x, %r : tensor<2x8xf32>, tensor<1x8xf32>
  return %n : tensor<2x8xf32>
}

// -----

// Centered input: this is LayerNorm without affine, not RMSNorm.
// CHECK-LABEL: func.func @centered_is_layer_norm
// CHECK-NOT: mu.rms_norm
func.func @centered_is_layer_norm(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %eps = mu.constant dense<1.0e-6> : tensor<f32>
  %mean = mu.reduce_mean %x [-1] <{keepdims = true}> : tensor<2x8xf32>
  %d = mu.sub %x, %mean : tensor<2x8xf32>, tensor<2x1xf32>
  %sq = mu.mul %d, %d : tensor<2x8xf32>, tensor<2x8xf32>
  %m = mu.reduce_mean %sq [-1] <{keepdims = true}> : tensor<2x8xf32>
  %a = mu.add %m, %eps : tensor<2x1xf32>, tensor<f32>
  %r = mu.rsqrt %a : tensor<2x1xf32>
  %n = mu.mul %d, %r : tensor<2x8xf32>, tensor<2x1xf32>
  return %n : tensor<2x8xf32>
}
