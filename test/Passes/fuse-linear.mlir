// RUN: mu-opt %s --mu-fuse-linear --split-input-file | FileCheck %s

// PyTorch export: weight [out, in] cast from fp16, transposed, matmul, bias add.
// CHECK-LABEL: func.func @torch_style
// CHECK-SAME: (%[[X:.*]]: tensor<1x?x4xf32>
// CHECK: %[[W16:.*]] = mu.constant dense_resource<w16> : tensor<2x4xf16>
// CHECK: %[[W:.*]] = mu.cast %[[W16]]
// CHECK: %[[L:.*]] = mu.linear %[[X]], %[[W]] bias(%{{.*}} : tensor<2xf32>)
// CHECK-NOT: mu.matmul
// CHECK-NOT: mu.add
// CHECK: return %[[L]]
func.func @torch_style(%x: tensor<1x?x4xf32>) -> tensor<1x?x2xf32> {
  %w16 = mu.constant dense_resource<w16> : tensor<2x4xf16>
  %w = mu.cast %w16 : tensor<2x4xf16> -> tensor<2x4xf32>
  %b = mu.constant dense<0.5> : tensor<2xf32>
  %wt = mu.transpose %w [1, 0] : tensor<2x4xf32>
  %y = mu.matmul %x, %wt : tensor<1x?x4xf32>, tensor<4x2xf32>
  %z = mu.add %y, %b : tensor<1x?x2xf32>, tensor<2xf32>
  return %z : tensor<1x?x2xf32>
}
{-#
  dialect_resources: {
    builtin: {
      w16: "0x02000000003C003C003C003C0040004000400040"
    }
  }
#-}

// -----

// Weight stored [in, out]: transposed at compile time into a new constant.
// CHECK-LABEL: func.func @in_out_weight
// CHECK: %[[W:.*]] = mu.constant dense_resource<w.T> : tensor<3x2xf32>
// CHECK: mu.linear %{{.*}}, %[[W]] : tensor<4x2xf32>, tensor<3x2xf32>
// [[0,1,2],[3,4,5]] transposed is [[0,3],[1,4],[2,5]]:
// CHECK: w.T: "0x4000000000000000000040400000803F00008040000000400000A040"
func.func @in_out_weight(%x: tensor<4x2xf32>) -> tensor<4x3xf32> {
  %w = mu.constant dense_resource<w> : tensor<2x3xf32>
  %y = mu.matmul %x, %w : tensor<4x2xf32>, tensor<2x3xf32>
  return %y : tensor<4x3xf32>
}
{-#
  dialect_resources: {
    builtin: {
      w: "0x04000000000000000000803F0000004000004040000080400000A040"
    }
  }
#-}

// -----

// Activations times activations is not a linear layer.
// CHECK-LABEL: func.func @not_a_weight
// CHECK: mu.matmul
func.func @not_a_weight(%x: tensor<4x8xf32>, %y: tensor<8x4xf32>) -> tensor<4x4xf32> {
  %z = mu.matmul %x, %y : tensor<4x8xf32>, tensor<8x4xf32>
  return %z : tensor<4x4xf32>
}
