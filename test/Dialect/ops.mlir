// RUN: mu-opt %s | mu-opt | FileCheck %s
// Round trip of every op family, with inferred result types.

// CHECK-LABEL: func.func @elementwise
func.func @elementwise(%a: tensor<1x?x64xf32>, %b: tensor<64xf32>) -> tensor<1x?x64xf32> {
  // CHECK: mu.add %{{.*}}, %{{.*}} : tensor<1x?x64xf32>, tensor<64xf32>
  %0 = mu.add %a, %b : tensor<1x?x64xf32>, tensor<64xf32>
  %1 = mu.silu %0 : tensor<1x?x64xf32>
  // CHECK: mu.gelu %{{.*}} {approximate = #mu.gelu_approx<tanh>}
  %2 = mu.gelu %1 {approximate = #mu.gelu_approx<tanh>} : tensor<1x?x64xf32>
  %c = mu.greater %2, %1 : tensor<1x?x64xf32>, tensor<1x?x64xf32>
  %3 = mu.where %c, %2, %1 : tensor<1x?x64xi1>, tensor<1x?x64xf32>, tensor<1x?x64xf32>
  return %3 : tensor<1x?x64xf32>
}

// CHECK-LABEL: func.func @blocks
func.func @blocks(%x: tensor<1x?x64xf32>, %w: tensor<64xf32>, %wq: tensor<64x64xf32>,
                  %cos: tensor<?x16xf32>, %sin: tensor<?x16xf32>) -> tensor<1x4x?x16xf32> {
  // CHECK: mu.rms_norm %{{.*}} weight(%{{.*}} : tensor<64xf32>) {epsilon = 9.99999974E-6 : f32}
  %n = mu.rms_norm %x weight(%w : tensor<64xf32>) {epsilon = 1.0e-5 : f32} : tensor<1x?x64xf32>
  %l = mu.layer_norm %n weight(%w : tensor<64xf32>) bias(%w : tensor<64xf32>) {epsilon = 1.0e-5 : f32} : tensor<1x?x64xf32>
  // CHECK: mu.linear
  %q = mu.linear %l, %wq : tensor<1x?x64xf32>, tensor<64x64xf32>
  %qr = mu.reshape %q : tensor<1x?x64xf32> -> tensor<1x?x4x16xf32>
  %qt = mu.transpose %qr [0, 2, 1, 3] : tensor<1x?x4x16xf32>
  // CHECK: mu.rope {{.*}} {mode = #mu.rope_mode<rotate_half>}
  %qe = mu.rope %qt, %cos, %sin {mode = #mu.rope_mode<rotate_half>} : tensor<1x4x?x16xf32>, tensor<?x16xf32>, tensor<?x16xf32>
  %k = mu.slice %qe <{axes = array<i64: 1>, starts = array<i64: 0>, ends = array<i64: 2>, steps = array<i64: 1>}> : tensor<1x4x?x16xf32>
  // CHECK: mu.attention {{.*}} {causal = true, scale = 2.500000e-01 : f32}
  %o = mu.attention %qe, %k, %k {causal = true, scale = 0.25 : f32} : tensor<1x4x?x16xf32>, tensor<1x2x?x16xf32>, tensor<1x2x?x16xf32> -> tensor<1x4x?x16xf32>
  return %o : tensor<1x4x?x16xf32>
}

// CHECK-LABEL: func.func @kv_cache
func.func @kv_cache(%q: tensor<1x4x1x16xf32>, %k: tensor<1x2x1x16xf32>, %pk: tensor<1x2x7x16xf32>) -> tensor<1x2x8x16xf32> {
  // CHECK: mu.attention {{.*}} past(
  %o, %ck, %cv = mu.attention %q, %k, %k past(%pk, %pk : tensor<1x2x7x16xf32>, tensor<1x2x7x16xf32>) {causal = true, scale = 0.25 : f32} : tensor<1x4x1x16xf32>, tensor<1x2x1x16xf32>, tensor<1x2x1x16xf32> -> tensor<1x4x1x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>
  return %ck : tensor<1x2x8x16xf32>
}

// CHECK-LABEL: func.func @shapes
func.func @shapes(%ids: tensor<1x?xi64>, %table: tensor<512x64xf16>) -> tensor<?xf32> {
  %e = mu.gather %table[%ids] <{axis = 0 : i64}> : tensor<512x64xf16>, tensor<1x?xi64>
  %f = mu.cast %e : tensor<1x?x64xf16> -> tensor<1x?x64xf32>
  %s = mu.reduce_mean %f [-1] <{keepdims = true}> : tensor<1x?x64xf32>
  %sm = mu.softmax %f {axis = -1 : i64} : tensor<1x?x64xf32>
  %n = mu.dim %ids[1] : tensor<1x?xi64>
  %z = mu.constant dense<0> : tensor<i64>
  %o = mu.constant dense<1> : tensor<i64>
  %r = mu.range %z, %n, %o : tensor<i64>, tensor<i64>, tensor<i64> -> tensor<?xi64>
  %rf = mu.cast %r : tensor<?xi64> -> tensor<?xf32>
  %c = mu.concat %rf, %rf <{axis = 0 : i64}> : tensor<?xf32>, tensor<?xf32>
  %p:2 = mu.split %c {axis = 0 : i64} : tensor<?xf32> -> tensor<?xf32>, tensor<?xf32>
  %g = mu.glu %p#0, %p#1 {activation = #mu.activation<silu>} : tensor<?xf32>, tensor<?xf32>
  return %g : tensor<?xf32>
}
