// RUN: mu-opt %s --canonicalize --split-input-file | FileCheck %s

// Identity ops fold away; chains compose.
// CHECK-LABEL: func.func @identities
// CHECK-SAME: (%[[X:.*]]: tensor<2x3xf32>)
// CHECK-NEXT: %[[T:.*]] = mu.transpose %[[X]] [1, 0]
// CHECK-NEXT: %[[R:.*]] = mu.reshape %[[T]] : tensor<3x2xf32> -> tensor<6xf32>
// CHECK-NEXT: return %[[R]]
func.func @identities(%x: tensor<2x3xf32>) -> tensor<6xf32> {
  %one = mu.constant dense<1.0> : tensor<f32>
  %zero = mu.constant dense<0.0> : tensor<f32>
  %a = mu.mul %x, %one : tensor<2x3xf32>, tensor<f32>
  %b = mu.add %a, %zero : tensor<2x3xf32>, tensor<f32>
  %t1 = mu.transpose %b [1, 0] : tensor<2x3xf32>
  %t2 = mu.transpose %t1 [1, 0] : tensor<3x2xf32>
  %t3 = mu.transpose %t2 [1, 0] : tensor<2x3xf32>
  %r1 = mu.reshape %t3 : tensor<3x2xf32> -> tensor<3x1x2xf32>
  %r2 = mu.reshape %r1 : tensor<3x1x2xf32> -> tensor<6xf32>
  %c = mu.cast %r2 : tensor<6xf32> -> tensor<6xf32>
  return %c : tensor<6xf32>
}

// -----

// Small constants fold; static dims fold to constants.
// CHECK-LABEL: func.func @constants
// CHECK-DAG: mu.constant dense<[2.000000e+00, 4.000000e+00]> : tensor<2xf32>
// CHECK-DAG: mu.constant dense<7> : tensor<i64>
// CHECK-NOT: mu.sqrt
// CHECK-NOT: mu.dim
func.func @constants(%x: tensor<7x?xf32>) -> (tensor<2xf32>, tensor<i64>) {
  %c = mu.constant dense<[4.0, 16.0]> : tensor<2xf32>
  %s = mu.sqrt %c : tensor<2xf32>
  %d = mu.dim %x[0] : tensor<7x?xf32>
  return %s, %d : tensor<2xf32>, tensor<i64>
}

// -----

// Widening then narrowing a float is the identity; an embedding lookup on a
// cast table casts only the gathered rows.
// CHECK-LABEL: func.func @casts
// CHECK-SAME: (%[[T:.*]]: tensor<16x4xf16>, %[[I:.*]]: tensor<1x3xi64>)
// CHECK: %[[G:.*]] = mu.gather %[[T]][%[[I]]]
// CHECK: %[[C:.*]] = mu.cast %[[G]] : tensor<1x3x4xf16> -> tensor<1x3x4xf32>
// CHECK: return %[[T]], %[[C]]
func.func @casts(%t: tensor<16x4xf16>, %i: tensor<1x3xi64>) -> (tensor<16x4xf16>, tensor<1x3x4xf32>) {
  %w = mu.cast %t : tensor<16x4xf16> -> tensor<16x4xf32>
  %n = mu.cast %w : tensor<16x4xf32> -> tensor<16x4xf16>
  %g = mu.gather %w[%i] <{axis = 0 : i64}> : tensor<16x4xf32>, tensor<1x3xi64>
  return %n, %g : tensor<16x4xf16>, tensor<1x3x4xf32>
}
