// RUN: mu-opt %s --mu-lower-to-kernels | FileCheck %s

// One muk op per runtime kernel, operands in kernel slot order, parameters as
// the runtime reads them. The FP16 weight's widening cast disappears (the
// linear kernel reads FP16 rows); an absent optional slot is recorded.
// CHECK-LABEL: func.func @block
// CHECK-SAME: (%[[X:.*]]: tensor<1x?x8xf32>
// CHECK-DAG: %[[W:.*]] = mu.constant dense<1.000000e+00> : tensor<4x8xf16>
// CHECK-DAG: %[[G:.*]] = mu.constant dense<5.000000e-01> : tensor<8xf32>
// CHECK-NOT: mu.cast
// CHECK: %[[N:.*]] = muk.rms_norm %[[X]], %[[G]] {floats = array<f32: 9.99999974E-6>}
// CHECK: %[[L:.*]] = muk.linear %[[N]], %[[W]] {absent = array<i32: 2>} : (tensor<1x?x8xf32>, tensor<4x8xf16>) -> tensor<1x?x4xf32>
// CHECK: %[[T:.*]] = muk.transpose %{{.*}} {ints = array<i64: 0, 2, 1, 3>}
// CHECK: muk.attention %[[T]], %[[T]], %[[T]] {absent = array<i32: 3, 4, 5>, floats = array<f32: 5.000000e-01>, ints = array<i64: 1>}
// CHECK: muk.glu {{.*}} {ints = array<i64: 0>}
func.func @block(%x: tensor<1x?x8xf32>) -> tensor<1x2x?x2xf32> {
  %w16 = mu.constant dense<1.0> : tensor<4x8xf16>
  %w = mu.cast %w16 : tensor<4x8xf16> -> tensor<4x8xf32>
  %g = mu.constant dense<0.5> : tensor<8xf32>
  %n = mu.rms_norm %x weight(%g : tensor<8xf32>) {epsilon = 1.0e-5 : f32} : tensor<1x?x8xf32>
  %l = mu.linear %n, %w : tensor<1x?x8xf32>, tensor<4x8xf32>
  %r = mu.reshape %l : tensor<1x?x4xf32> -> tensor<1x?x2x2xf32>
  %t = mu.transpose %r [0, 2, 1, 3] : tensor<1x?x2x2xf32>
  %a = mu.attention %t, %t, %t {causal = true, scale = 0.5 : f32} : tensor<1x2x?x2xf32>, tensor<1x2x?x2xf32>, tensor<1x2x?x2xf32> -> tensor<1x2x?x2xf32>
  %o = mu.glu %a, %a {activation = #mu.activation<silu>} : tensor<1x2x?x2xf32>, tensor<1x2x?x2xf32>
  return %o : tensor<1x2x?x2xf32>
}

// Returning an input or a constant gets an explicit copy.
// CHECK-LABEL: func.func @passthrough
// CHECK: %[[C:.*]] = muk.reshape %arg0
// CHECK: return %[[C]]
func.func @passthrough(%x: tensor<3xf32>) -> tensor<3xf32> {
  return %x : tensor<3xf32>
}
