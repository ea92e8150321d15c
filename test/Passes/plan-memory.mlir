// RUN: mu-opt %s --mu-plan-memory=max-seq=16 | FileCheck %s

// Greedy by size with liveness, in place where legal. %b overwrites %a (its
// last use); %c needs its own slot because %b is still live; the add writes
// over %b (its last use). 16x64 f32 = 4096 B per tensor.
// CHECK-LABEL: func.func @chain
// CHECK-SAME: attributes {muk.arena_size = 8192 : i64, muk.max_seq = 16 : i64}
// CHECK: %[[A:.*]] = muk.exp %arg0 {offsets = array<i64: 0>}
// CHECK: %[[B:.*]] = muk.neg %[[A]] {offsets = array<i64: 0>}
// CHECK: %[[C:.*]] = muk.exp %[[B]] {offsets = array<i64: 4096>}
// CHECK: %[[D:.*]] = muk.add %[[B]], %[[C]] {offsets = array<i64: 0>}
func.func @chain(%x: tensor<?x64xf32>) -> tensor<?x64xf32> {
  %a = muk.exp %x : (tensor<?x64xf32>) -> tensor<?x64xf32>
  %b = muk.neg %a : (tensor<?x64xf32>) -> tensor<?x64xf32>
  %c = muk.exp %b : (tensor<?x64xf32>) -> tensor<?x64xf32>
  %d = muk.add %b, %c : (tensor<?x64xf32>, tensor<?x64xf32>) -> tensor<?x64xf32>
  return %d : tensor<?x64xf32>
}

// A reshape aliases its input, so the input's buffer stays live while the
// alias is: the neg may not overwrite %a, and %s keeps %a's slot.
// CHECK-LABEL: func.func @alias
// CHECK: %[[A:.*]] = muk.exp %arg0 {offsets = array<i64: 0>}
// CHECK: %[[R:.*]] = muk.reshape %[[A]] {offsets = array<i64: 0>}
// CHECK: %[[N:.*]] = muk.neg %[[A]] {offsets = array<i64: 256>}
// CHECK: muk.add %[[R]], %{{.*}} {offsets = array<i64: 0>}
func.func @alias(%x: tensor<4x16xf32>) -> tensor<64xf32> {
  %a = muk.exp %x : (tensor<4x16xf32>) -> tensor<4x16xf32>
  %r = muk.reshape %a : (tensor<4x16xf32>) -> tensor<64xf32>
  %n = muk.neg %a : (tensor<4x16xf32>) -> tensor<4x16xf32>
  %nr = muk.reshape %n : (tensor<4x16xf32>) -> tensor<64xf32>
  %s = muk.add %r, %nr : (tensor<64xf32>, tensor<64xf32>) -> tensor<64xf32>
  return %s : tensor<64xf32>
}

// A function planned for one token per call (mu.max_seq = 1), and a result
// that goes back to persistent state (offset -1, not in the arena).
// CHECK-LABEL: func.func @decode
// CHECK-SAME: muk.arena_size = 256 : i64, muk.max_seq = 1 : i64
// CHECK: muk.exp %arg0 {offsets = array<i64: 0>}
// CHECK: muk.neg %{{.*}} {offsets = array<i64: -1>}
func.func @decode(%x: tensor<?x64xf32>) -> (tensor<?x64xf32>, tensor<?x64xf32> {mu.state = "cache"}) attributes {mu.max_seq = 1 : i64} {
  %a = muk.exp %x : (tensor<?x64xf32>) -> tensor<?x64xf32>
  %s = muk.neg %a : (tensor<?x64xf32>) -> tensor<?x64xf32>
  return %a, %s : tensor<?x64xf32>, tensor<?x64xf32>
}
