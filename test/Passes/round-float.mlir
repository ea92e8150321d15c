// RUN: mu-opt %s --mu-round-float=precision=f16 | FileCheck %s
// RUN: mu-opt %s --mu-round-float=precision=bf16 | FileCheck %s --check-prefix=BF16
// RUN: mu-opt %s --mu-round-float=precision=f32 | FileCheck %s --check-prefix=F32
// RUN: not mu-opt %s --mu-round-float=precision=f8 2>&1 | FileCheck %s --check-prefix=BAD

// Arithmetic results on the target go through muk.round (ints [1] = FP16,
// [2] = BF16) before any consumer sees them; data movement is not rounded
// again, ops placed on the CPU are not rounded, and a KV-cache state result
// stays the kernel's own value.
// CHECK-LABEL: func.func @f
// CHECK: %[[E:.*]] = muk.exp %arg0
// CHECK-NEXT: %[[R:.*]] = muk.round %[[E]] {ints = array<i64: 1>}
// CHECK-NEXT: %[[T:.*]] = muk.transpose %[[R]]
// CHECK-NEXT: %[[C:.*]] = muk.neg %[[T]] {muk.device = "cpu"}
// CHECK-NEXT: %[[A:.*]] = muk.add %[[C]], %[[T]]
// CHECK-NEXT: %[[RA:.*]] = muk.round %[[A]] {ints = array<i64: 1>}
// CHECK-NEXT: %[[S:.*]] = muk.add %[[C]], %[[T]]
// CHECK-NEXT: return %[[RA]], %[[S]]
// BF16: muk.round %{{.*}} {ints = array<i64: 2>}
// F32-NOT: muk.round
// BAD: precision must be f32, f16 or bf16, not 'f8'
func.func @f(%x: tensor<2x3xf32>) -> (tensor<3x2xf32>, tensor<3x2xf32> {mu.state = "k_cache_0"}) {
  %e = muk.exp %x : (tensor<2x3xf32>) -> tensor<2x3xf32>
  %t = muk.transpose %e {ints = array<i64: 1, 0>} : (tensor<2x3xf32>) -> tensor<3x2xf32>
  %c = muk.neg %t {muk.device = "cpu"} : (tensor<3x2xf32>) -> tensor<3x2xf32>
  %a = muk.add %c, %t : (tensor<3x2xf32>, tensor<3x2xf32>) -> tensor<3x2xf32>
  %s = muk.add %c, %t : (tensor<3x2xf32>, tensor<3x2xf32>) -> tensor<3x2xf32>
  return %a, %s : tensor<3x2xf32>, tensor<3x2xf32>
}
