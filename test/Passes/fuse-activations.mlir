// RUN: mu-opt %s --mu-fuse-activations --split-input-file | FileCheck %s

// CHECK-LABEL: func.func @silu
// CHECK: %[[S:.*]] = mu.silu %arg0
// CHECK-NOT: mu.sigmoid
// CHECK: return %[[S]]
func.func @silu(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %s = mu.sigmoid %x : tensor<2x8xf32>
  %y = mu.mul %s, %x : tensor<2x8xf32>, tensor<2x8xf32>
  return %y : tensor<2x8xf32>
}

// -----

// torch.nn.GELU() export: x * 0.5 * (1 + erf(x / sqrt(2))).
// CHECK-LABEL: func.func @gelu_erf
// CHECK: %[[G:.*]] = mu.gelu %arg0 : tensor<2x8xf32>
// CHECK-NOT: mu.erf
// CHECK: return %[[G]]
func.func @gelu_erf(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %sqrt2 = mu.constant dense<1.41421354> : tensor<f32>
  %one = mu.constant dense<1.0> : tensor<f32>
  %half = mu.constant dense<0.5> : tensor<f32>
  %d = mu.div %x, %sqrt2 : tensor<2x8xf32>, tensor<f32>
  %e = mu.erf %d : tensor<2x8xf32>
  %a = mu.add %e, %one : tensor<2x8xf32>, tensor<f32>
  %m = mu.mul %x, %a : tensor<2x8xf32>, tensor<2x8xf32>
  %y = mu.mul %m, %half : tensor<2x8xf32>, tensor<f32>
  return %y : tensor<2x8xf32>
}

// -----

// GELU tanh approximation (gelu_new / Mu's FFN), with the cube as pow.
// CHECK-LABEL: func.func @gelu_tanh
// CHECK: mu.gelu %arg0 {approximate = #mu.gelu_approx<tanh>}
// CHECK-NOT: mu.tanh
func.func @gelu_tanh(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %three = mu.constant dense<3.0> : tensor<f32>
  %k = mu.constant dense<0.044715> : tensor<f32>
  %c = mu.constant dense<0.797884583> : tensor<f32>
  %one = mu.constant dense<1.0> : tensor<f32>
  %half = mu.constant dense<0.5> : tensor<f32>
  %p = mu.pow %x, %three : tensor<2x8xf32>, tensor<f32>
  %kp = mu.mul %p, %k : tensor<2x8xf32>, tensor<f32>
  %in = mu.add %x, %kp : tensor<2x8xf32>, tensor<2x8xf32>
  %sc = mu.mul %in, %c : tensor<2x8xf32>, tensor<f32>
  %t = mu.tanh %sc : tensor<2x8xf32>
  %a = mu.add %t, %one : tensor<2x8xf32>, tensor<f32>
  %hx = mu.mul %half, %x : tensor<f32>, tensor<2x8xf32>
  %y = mu.mul %hx, %a : tensor<2x8xf32>, tensor<2x8xf32>
  return %y : tensor<2x8xf32>
}

// -----

// A wrong constant (0.4 instead of 0.5) is left alone.
// CHECK-LABEL: func.func @not_gelu
// CHECK-NOT: mu.gelu
// CHECK: mu.erf
func.func @not_gelu(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %sqrt2 = mu.constant dense<1.41421354> : tensor<f32>
  %one = mu.constant dense<1.0> : tensor<f32>
  %half = mu.constant dense<0.4> : tensor<f32>
  %d = mu.div %x, %sqrt2 : tensor<2x8xf32>, tensor<f32>
  %e = mu.erf %d : tensor<2x8xf32>
  %a = mu.add %e, %one : tensor<2x8xf32>, tensor<f32>
  %m = mu.mul %x, %a : tensor<2x8xf32>, tensor<2x8xf32>
  %y = mu.mul %m, %half : tensor<2x8xf32>, tensor<f32>
  return %y : tensor<2x8xf32>
}
