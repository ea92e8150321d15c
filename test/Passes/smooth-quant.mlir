// RUN: mu-opt %s --mu-smooth-quant="alpha=0.5 stats=%S/Inputs/smooth-stats.json" | FileCheck %s
// RUN: not mu-opt %s --mu-smooth-quant 2>&1 | FileCheck %s --check-prefix=NOSTATS
// NOSTATS: mu-smooth-quant: needs calibration statistics (stats=FILE)

// Channel 0 of "norm" reaches |x| = 4, channel 1 only 1; both weight columns
// peak at 1. s = sqrt(max|x_j|) / sqrt(max|W_:j|) = [2, 1]: the norm weight
// becomes [0.5, 1] and both consumers' column 0 doubles (new blobs, 64-byte
// aligned).
// CHECK-LABEL: func.func @block
// CHECK: %[[G:.*]] = mu.constant dense_resource<gamma.smoothed> : tensor<2xf32>
// CHECK: %[[W1:.*]] = mu.constant dense_resource<w1.smoothed> : tensor<3x2xf32>
// CHECK: %[[W2:.*]] = mu.constant dense_resource<w2.smoothed> : tensor<2x2xf32>
// CHECK: mu.rms_norm %arg0 weight(%[[G]]
// CHECK: gamma.smoothed: "0x400000000000003F0000803F"
// CHECK: w1.smoothed: "0x40000000000000400000803F000000400000803F000000400000803F"
func.func @block(%x: tensor<1x2xf32>) -> (tensor<1x3xf32>, tensor<1x2xf32>) {
  %g = mu.constant dense_resource<gamma> : tensor<2xf32>
  %w1 = mu.constant dense_resource<w1> : tensor<3x2xf32>
  %w2 = mu.constant dense_resource<w2> : tensor<2x2xf32>
  %n = mu.rms_norm %x weight(%g : tensor<2xf32>) {epsilon = 1.0e-5 : f32} : tensor<1x2xf32> loc("norm")
  %a = mu.linear %n, %w1 : tensor<1x2xf32>, tensor<3x2xf32>
  %b = mu.linear %n, %w2 : tensor<1x2xf32>, tensor<2x2xf32>
  return %a, %b : tensor<1x3xf32>, tensor<1x2xf32>
}
{-#
  dialect_resources: {
    builtin: {
      gamma: "0x040000000000803F0000803F",
      w1: "0x040000000000803F0000803F0000803F0000803F0000803F0000803F",
      w2: "0x040000000000803F0000803F0000803F0000803F"
    }
  }
#-}
