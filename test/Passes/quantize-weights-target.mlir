// Target scale rules of mu-quantize-weights.
// RUN: mu-opt %s --mu-quantize-weights="min-elements=0 per-tensor=true" | FileCheck %s --check-prefix=TENSOR
// RUN: mu-opt %s --mu-quantize-weights="min-elements=0 power-of-two=true" | FileCheck %s --check-prefix=POW2
// RUN: mu-opt %s --mu-quantize-weights="min-elements=0 power-of-two=true per-tensor=true" | FileCheck %s --check-prefix=TENSOR

// The weight is [[-127, 0, 64, 127], [-0.5, 0.25, 0.5, 0]] (FP16).
// One scale for the whole matrix (a target without per-channel weights):
// the MSE search over all of it keeps 1.0, so row 1 rounds to zeros (the
// price of per-tensor weights), and the type is per tensor.
// TENSOR: quant.scast %{{.*}} : tensor<2x4xi8> to tensor<2x4x!quant.uniform<i8<-127:127>:f32, 1.000000e+00>>
// TENSOR: w.q8: "0x400000008100407F00000000"
// Power-of-two scales per row (XINT8): row 0 keeps 2^0; row 1's covering
// power is 2^-7 (0.5 / 127 > 2^-8), which represents it exactly.
// POW2: quant.scast %{{.*}} : tensor<2x4xi8> to tensor<2x4x!quant.uniform<i8<-127:127>:f32:0, {1.000000e+00,7.812500e-03}>>
// POW2: w.q8: "0x400000008100407FC0204000"
func.func @linear(%x: tensor<3x4xf32>) -> tensor<3x2xf32> {
  %w = mu.constant dense_resource<w> : tensor<2x4xf16>
  %y = muk.linear %x, %w {absent = array<i32: 2>} : (tensor<3x4xf32>, tensor<2x4xf16>) -> tensor<3x2xf32>
  return %y : tensor<3x2xf32>
}
{-#
  dialect_resources: {
    builtin: {
      w: "0x02000000F0D700000054F05700B8003400380000"
    }
  }
#-}
