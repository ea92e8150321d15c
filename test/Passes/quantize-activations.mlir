// RUN: mu-opt %s --mu-quantize-activations=ranges=%S/Inputs/activation-ranges-target.json | FileCheck %s --check-prefix=TARGET
// RUN: mu-opt %s --mu-quantize-activations=ranges=%S/Inputs/activation-ranges.json | FileCheck %s
// RUN: not mu-opt %s --mu-quantize-activations 2>&1 | FileCheck %s --check-prefix=NORANGES
// NORANGES: no ranges (set ranges=FILE)

// "norm" (int8 asymmetric: scale 4/255, zero point -128 + 1/scale = -64) is
// quantized once for both linears. "proj" gets an int32 bias at scale
// s_x * s_w[c] and an int16 symmetric output (scale 2/32767), dequantized
// for its float consumer. "head" is a program result: its output stays f32.
// CHECK-LABEL: func.func @block
// Target encodings: "norm" as u16 asymmetric (QNN HTP: range [-1, 3] ->
// scale 4/65535, zero point 16384), "proj" symmetric with a power-of-two
// scale (XINT8: 2/127 rounds up to 2^-5).
// TARGET: muk.quantize %{{.*}} : (tensor<2x4xf32>) -> tensor<2x4x!quant.uniform<u16:f32, 6.1036087586785687E-5:16384>>
// TARGET: muk.linear {{.*}} -> tensor<2x3x!quant.uniform<i8<-127:127>:f32, 3.125000e-02>>
// CHECK: %[[N:.*]] = muk.exp
// CHECK-NEXT: %[[Q:.*]] = muk.quantize %[[N]] : (tensor<2x4xf32>) -> tensor<2x4x!quant.uniform<i8:f32, 0.015686274509803921:-64>>
// CHECK: %[[B:.*]] = mu.constant dense<64> : tensor<3xi32>
// CHECK: %[[BQ:.*]] = quant.scast %[[B]] : tensor<3xi32> to tensor<3x!quant.uniform<i32:f32:0, {0.00156862745098039{{[0-9]+}},0.00313725490196078{{[0-9]+}},0.00470588235294117{{[0-9]+}}}>>
// CHECK: %[[P:.*]] = muk.linear %[[Q]], %{{.*}}, %[[BQ]] : {{.*}} -> tensor<2x3x!quant.uniform<i16<-32767:32767>:f32, 6.1037018951994385E-5>>
// CHECK-NEXT: %[[D:.*]] = muk.dequantize %[[P]] : {{.*}} -> tensor<2x3xf32>
// CHECK-NEXT: muk.neg %[[D]]
// CHECK: muk.linear %[[Q]], %{{.*}} {absent = array<i32: 2>} : {{.*}} -> tensor<2x3xf32>
// CHECK-NOT: muk.quantize
func.func @block(%x: tensor<2x4xf32>) -> (tensor<2x3xf32>, tensor<2x3xf32>) {
  %n = muk.exp %x : (tensor<2x4xf32>) -> tensor<2x4xf32> loc("norm")
  %w = mu.constant dense<1> : tensor<3x4xi8>
  %wq = quant.scast %w : tensor<3x4xi8> to tensor<3x4x!quant.uniform<i8<-127:127>:f32:0, {0.1, 0.2, 0.3}>>
  %b = mu.constant dense<[0.1, 0.2, 0.3]> : tensor<3xf32>
  %y = muk.linear %n, %wq, %b : (tensor<2x4xf32>, tensor<3x4x!quant.uniform<i8<-127:127>:f32:0, {0.1, 0.2, 0.3}>>, tensor<3xf32>) -> tensor<2x3xf32> loc("proj")
  %z = muk.neg %y : (tensor<2x3xf32>) -> tensor<2x3xf32> loc("after")
  %h = muk.linear %n, %wq {absent = array<i32: 2>} : (tensor<2x4xf32>, tensor<3x4x!quant.uniform<i8<-127:127>:f32:0, {0.1, 0.2, 0.3}>>) -> tensor<2x3xf32> loc("head")
  return %z, %h : tensor<2x3xf32>, tensor<2x3xf32>
}

// A linear without a range for its input, or with a float weight, stays f32.
// CHECK-LABEL: func.func @untouched
// CHECK-NOT: muk.quantize
// CHECK: muk.linear %arg0, %{{.*}} : (tensor<2x4xf32>, tensor<3x4xf32>) -> tensor<2x3xf32>
func.func @untouched(%x: tensor<2x4xf32>) -> tensor<2x3xf32> {
  %w = mu.constant dense<1.0> : tensor<3x4xf32>
  %y = muk.linear %x, %w {absent = array<i32: 2>} : (tensor<2x4xf32>, tensor<3x4xf32>) -> tensor<2x3xf32> loc("proj")
  return %y : tensor<2x3xf32>
}
