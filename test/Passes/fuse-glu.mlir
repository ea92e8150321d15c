// RUN: mu-opt %s --mu-fuse-glu --split-input-file | FileCheck %s

// LLaMA MLP: silu(gate) * up.
// CHECK-LABEL: func.func @swiglu
// CHECK: %[[G:.*]] = mu.glu %arg0, %arg1 {activation = #mu.activation<silu>}
// CHECK-NOT: mu.silu
// CHECK: return %[[G]]
func.func @swiglu(%gate: tensor<1x?x64xf32>, %up: tensor<1x?x64xf32>) -> tensor<1x?x64xf32> {
  %s = mu.silu %gate : tensor<1x?x64xf32>
  %y = mu.mul %up, %s : tensor<1x?x64xf32>, tensor<1x?x64xf32>
  return %y : tensor<1x?x64xf32>
}

// -----

// CHECK-LABEL: func.func @geglu_tanh
// CHECK: mu.glu %arg0, %arg1 {activation = #mu.activation<gelu_tanh>}
func.func @geglu_tanh(%gate: tensor<4x8xf32>, %up: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %g = mu.gelu %gate {approximate = #mu.gelu_approx<tanh>} : tensor<4x8xf32>
  %y = mu.mul %g, %up : tensor<4x8xf32>, tensor<4x8xf32>
  return %y : tensor<4x8xf32>
}

// -----

// The activation has a second use: fusing would compute it twice.
// CHECK-LABEL: func.func @shared_activation
// CHECK-NOT: mu.glu
func.func @shared_activation(%gate: tensor<4x8xf32>, %up: tensor<4x8xf32>) -> (tensor<4x8xf32>, tensor<4x8xf32>) {
  %s = mu.silu %gate : tensor<4x8xf32>
  %y = mu.mul %s, %up : tensor<4x8xf32>, tensor<4x8xf32>
  return %y, %s : tensor<4x8xf32>, tensor<4x8xf32>
}
