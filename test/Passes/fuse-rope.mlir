// RUN: mu-opt %s --mu-fuse-rope --split-input-file | FileCheck %s

// Hugging Face rotate_half as torch.onnx exports it (slices on axis 3).
// CHECK-LABEL: func.func @rotate_half
// CHECK-SAME: (%[[X:.*]]: tensor<1x4x?x8xf32>, %[[C:.*]]: tensor<?x8xf32>, %[[S:.*]]: tensor<?x8xf32>)
// CHECK: %[[R:.*]] = mu.rope %[[X]], %[[C]], %[[S]] {mode = #mu.rope_mode<rotate_half>}
// CHECK-NOT: mu.neg
// CHECK: return %[[R]]
func.func @rotate_half(%x: tensor<1x4x?x8xf32>, %cos: tensor<?x8xf32>, %sin: tensor<?x8xf32>) -> tensor<1x4x?x8xf32> {
  %xc = mu.mul %x, %cos : tensor<1x4x?x8xf32>, tensor<?x8xf32>
  %x1 = mu.slice %x <{axes = array<i64: 3>, starts = array<i64: 0>, ends = array<i64: 4>, steps = array<i64: 1>}> : tensor<1x4x?x8xf32>
  %x2 = mu.slice %x <{axes = array<i64: 3>, starts = array<i64: 4>, ends = array<i64: 9223372036854775807>, steps = array<i64: 1>}> : tensor<1x4x?x8xf32>
  %n = mu.neg %x2 : tensor<1x4x?x4xf32>
  %rot = mu.concat %n, %x1 <{axis = -1 : i64}> : tensor<1x4x?x4xf32>, tensor<1x4x?x4xf32>
  %rs = mu.mul %rot, %sin : tensor<1x4x?x8xf32>, tensor<?x8xf32>
  %y = mu.add %xc, %rs : tensor<1x4x?x8xf32>, tensor<1x4x?x8xf32>
  return %y : tensor<1x4x?x8xf32>
}

// -----

// GPT-J / llama2.c interleaved pairs: x viewed as [..., d/2, 2], lanes by
// gather, complex multiply, stacked and flattened. The [seq, d/2] tables are
// widened to [seq, d] with each entry repeated twice.
// CHECK-LABEL: func.func @interleaved
// CHECK-SAME: (%[[X:.*]]: tensor<1x2x5x8xf32>, %[[C:.*]]: tensor<5x4xf32>, %[[S:.*]]: tensor<5x4xf32>)
// CHECK: %[[C1:.*]] = mu.reshape %[[C]] : tensor<5x4xf32> -> tensor<5x4x1xf32>
// CHECK: %[[C2:.*]] = mu.broadcast_to %[[C1]] : tensor<5x4x1xf32> -> tensor<5x4x2xf32>
// CHECK: %[[CW:.*]] = mu.reshape %[[C2]] : tensor<5x4x2xf32> -> tensor<5x8xf32>
// CHECK: %[[SW:.*]] = mu.reshape %{{.*}} : tensor<5x4x2xf32> -> tensor<5x8xf32>
// CHECK: %[[R:.*]] = mu.rope %[[X]], %[[CW]], %[[SW]] {mode = #mu.rope_mode<interleaved>}
// CHECK: return %[[R]]
func.func @interleaved(%x: tensor<1x2x5x8xf32>, %c: tensor<5x4xf32>, %s: tensor<5x4xf32>) -> tensor<1x2x5x8xf32> {
  %i0 = mu.constant dense<0> : tensor<i64>
  %i1 = mu.constant dense<1> : tensor<i64>
  %p = mu.reshape %x : tensor<1x2x5x8xf32> -> tensor<1x2x5x4x2xf32>
  %x0 = mu.gather %p[%i0] <{axis = -1 : i64}> : tensor<1x2x5x4x2xf32>, tensor<i64>
  %x1 = mu.gather %p[%i1] <{axis = -1 : i64}> : tensor<1x2x5x4x2xf32>, tensor<i64>
  %a = mu.mul %x0, %c : tensor<1x2x5x4xf32>, tensor<5x4xf32>
  %b = mu.mul %x1, %s : tensor<1x2x5x4xf32>, tensor<5x4xf32>
  %re = mu.sub %a, %b : tensor<1x2x5x4xf32>, tensor<1x2x5x4xf32>
  %c2 = mu.mul %x0, %s : tensor<1x2x5x4xf32>, tensor<5x4xf32>
  %d2 = mu.mul %x1, %c : tensor<1x2x5x4xf32>, tensor<5x4xf32>
  %im = mu.add %c2, %d2 : tensor<1x2x5x4xf32>, tensor<1x2x5x4xf32>
  %re1 = mu.reshape %re : tensor<1x2x5x4xf32> -> tensor<1x2x5x4x1xf32>
  %im1 = mu.reshape %im : tensor<1x2x5x4xf32> -> tensor<1x2x5x4x1xf32>
  %st = mu.concat %re1, %im1 <{axis = -1 : i64}> : tensor<1x2x5x4x1xf32>, tensor<1x2x5x4x1xf32>
  %y = mu.reshape %st : tensor<1x2x5x4x2xf32> -> tensor<1x2x5x8xf32>
  return %y : tensor<1x2x5x8xf32>
}

// -----

// Halves swapped without the negation is not a rotation.
// CHECK-LABEL: func.func @no_negation
// CHECK-NOT: mu.rope
func.func @no_negation(%x: tensor<1x4x3x8xf32>, %cos: tensor<3x8xf32>, %sin: tensor<3x8xf32>) -> tensor<1x4x3x8xf32> {
  %xc = mu.mul %x, %cos : tensor<1x4x3x8xf32>, tensor<3x8xf32>
  %x1 = mu.slice %x <{axes = array<i64: 3>, starts = array<i64: 0>, ends = array<i64: 4>, steps = array<i64: 1>}> : tensor<1x4x3x8xf32>
  %x2 = mu.slice %x <{axes = array<i64: 3>, starts = array<i64: 4>, ends = array<i64: 8>, steps = array<i64: 1>}> : tensor<1x4x3x8xf32>
  %rot = mu.concat %x2, %x1 <{axis = 3 : i64}> : tensor<1x4x3x4xf32>, tensor<1x4x3x4xf32>
  %rs = mu.mul %rot, %sin : tensor<1x4x3x8xf32>, tensor<3x8xf32>
  %y = mu.add %xc, %rs : tensor<1x4x3x8xf32>, tensor<1x4x3x8xf32>
  return %y : tensor<1x4x3x8xf32>
}
