// RUN: mu-opt %s --mu-name-ops --mlir-print-debuginfo | FileCheck %s

// Weight-reading ops take the weight's module path; others are named after
// the module of the last weight-reading op, uniqued with #k; an existing
// NameLoc is kept.
// CHECK-LABEL: func.func @block
// CHECK: mu.rms_norm {{.*}} loc(#[[NORM:loc[0-9]+]])
// CHECK: mu.linear {{.*}} loc(#[[Q:loc[0-9]+]])
// CHECK: mu.silu {{.*}} loc(#[[S0:loc[0-9]+]])
// CHECK: mu.silu {{.*}} loc(#[[S1:loc[0-9]+]])
// CHECK: mu.neg {{.*}} loc(#[[KEEP:loc[0-9]+]])
// CHECK-DAG: #[[NORM]] = loc("layers.0.input_layernorm"
// CHECK-DAG: #[[Q]] = loc("layers.0.attn.q_proj"
// CHECK-DAG: #[[S0]] = loc("layers.0.attn.silu"
// CHECK-DAG: #[[S1]] = loc("layers.0.attn.silu#1"
// CHECK-DAG: #[[KEEP]] = loc("mine"
func.func @block(%x: tensor<2x4xf32>) -> tensor<2x8xf32> {
  %n = mu.constant dense_resource<layers.0.input_layernorm.weight> : tensor<4xf32>
  %w = mu.constant dense_resource<layers.0.attn.q_proj.weight> : tensor<8x4xf16>
  %wf = mu.cast %w : tensor<8x4xf16> -> tensor<8x4xf32>
  %a = mu.rms_norm %x weight(%n : tensor<4xf32>) {epsilon = 1.0e-5 : f32} : tensor<2x4xf32>
  %b = mu.linear %a, %wf : tensor<2x4xf32>, tensor<8x4xf32>
  %c = mu.silu %b : tensor<2x8xf32>
  %d = mu.silu %c : tensor<2x8xf32>
  %e = mu.neg %d : tensor<2x8xf32> loc("mine")
  return %e : tensor<2x8xf32>
}
