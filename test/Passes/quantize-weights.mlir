// RUN: mu-opt %s --mu-quantize-weights=min-elements=0 | FileCheck %s
// RUN: mu-opt %s --mu-quantize-weights="min-elements=0 block-size=2" | FileCheck %s --check-prefix=BLOCK

// A linear weight (FP16, [out=2, in=4]) becomes an int8 constant viewed as a
// per-row !quant.uniform tensor. Row 0 is on its own 8-bit grid already
// (max 127 -> scale 1.0), row 1 has max 0.5; the MSE search keeps these
// scales because they reproduce the rows exactly. The bias stays float.
// CHECK-LABEL: func.func @linear
// CHECK: %[[Q:.*]] = mu.constant dense_resource<w.q8> : tensor<2x4xi8>
// CHECK: %[[V:.*]] = quant.scast %[[Q]] : tensor<2x4xi8> to tensor<2x4x!quant.uniform<i8<-127:127>:f32:0, {1.000000e+00,0.0039370078{{[0-9]*}}}>>
// CHECK: muk.linear %arg0, %[[V]], %{{.*}} : (tensor<3x4xf32>, tensor<2x4x!quant.uniform
// CHECK-NOT: dense_resource<w>
// CHECK: w.q8: "0x400000008100407F81407F00"
// With blocks of 2 inputs: a sub-channel type, one scale per [row, block].
// BLOCK: quant.scast %{{.*}} : tensor<2x4xi8> to tensor<2x4x!quant.uniform<i8<-127:127>:f32:{0:1, 1:2}, {{[{][{]}}1.000000e+00, 1.000000e+00}, {0.0039370{{[0-9]*}}, 0.0039370{{[0-9]*}}}}>>
// BLOCK: w.q8b2:
func.func @linear(%x: tensor<3x4xf32>) -> tensor<3x2xf32> {
  %w = mu.constant dense_resource<w> : tensor<2x4xf16>
  %b = mu.constant dense<0.5> : tensor<2xf32>
  %y = muk.linear %x, %w, %b : (tensor<3x4xf32>, tensor<2x4xf16>, tensor<2xf32>) -> tensor<3x2xf32>
  return %y : tensor<3x2xf32>
}
{-#
  dialect_resources: {
    builtin: {
      w: "0x02000000F0D700000054F05700B8003400380000"
    }
  }
#-}
