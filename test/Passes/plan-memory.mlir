// RUN: mu-opt %s --mu-plan-memory=max-seq=16 | FileCheck %s

// Greedy by size with liveness: %a (16x64 f32 = 4096 B) and %b overlap in
// time and get disjoint slots; %c is defined after %a's last use and reuses
// %a's slot. The returned %d lives to the end. Dynamic dims use max-seq.
// CHECK-LABEL: func.func @chain
// CHECK-SAME: attributes {muk.arena_size = 12288 : i64, muk.max_seq = 16 : i64}
// CHECK: %[[A:.*]] = muk.exp %arg0 {offsets = array<i64: 0>}
// CHECK: %[[B:.*]] = muk.neg %[[A]] {offsets = array<i64: 4096>}
// CHECK: %[[C:.*]] = muk.exp %[[B]] {offsets = array<i64: 0>}
// CHECK: %[[D:.*]] = muk.add %[[B]], %[[C]] {offsets = array<i64: 8192>}
func.func @chain(%x: tensor<?x64xf32>) -> tensor<?x64xf32> {
  %a = muk.exp %x : (tensor<?x64xf32>) -> tensor<?x64xf32>
  %b = muk.neg %a : (tensor<?x64xf32>) -> tensor<?x64xf32>
  %c = muk.exp %b : (tensor<?x64xf32>) -> tensor<?x64xf32>
  %d = muk.add %b, %c : (tensor<?x64xf32>, tensor<?x64xf32>) -> tensor<?x64xf32>
  return %d : tensor<?x64xf32>
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
