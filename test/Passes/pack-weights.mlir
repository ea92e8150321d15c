// RUN: mu-opt %s --mu-pack-weights | FileCheck %s

// An int8 weight read by integer linears (int8 and int16 inputs) and by a
// gather (a tied embedding) is packed.
// CHECK-LABEL: func.func @tied
// CHECK: mu.constant {muk.layout = "i8n16k4"} dense<1> : tensor<3x4xi8>
func.func @tied(%x: tensor<2x4x!quant.uniform<i8:f32, 0.5:3>>, %h: tensor<2x4x!quant.uniform<i16:f32, 0.01>>, %ids: tensor<2xi64>) -> (tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x4xf32>) {
  %w = mu.constant dense<1> : tensor<3x4xi8>
  %wq = quant.scast %w : tensor<3x4xi8> to tensor<3x4x!quant.uniform<i8<-127:127>:f32:0, {0.1, 0.2, 0.3}>>
  %a = muk.linear %x, %wq {absent = array<i32: 2>} : (tensor<2x4x!quant.uniform<i8:f32, 0.5:3>>, tensor<3x4x!quant.uniform<i8<-127:127>:f32:0, {0.1, 0.2, 0.3}>>) -> tensor<2x3xf32>
  %b = muk.linear %h, %wq {absent = array<i32: 2>} : (tensor<2x4x!quant.uniform<i16:f32, 0.01>>, tensor<3x4x!quant.uniform<i8<-127:127>:f32:0, {0.1, 0.2, 0.3}>>) -> tensor<2x3xf32>
  %e = muk.gather %wq, %ids {ints = array<i64: 0>} : (tensor<3x4x!quant.uniform<i8<-127:127>:f32:0, {0.1, 0.2, 0.3}>>, tensor<2xi64>) -> tensor<2x4xf32>
  return %a, %b, %e : tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x4xf32>
}

// Row-major stays: a float-input linear (weight-only w8 dequantizes rows),
// a weight holding -128, a weight with zero points, an int8 gather alone.
// CHECK-LABEL: func.func @unpacked
// CHECK-NOT: muk.layout
func.func @unpacked(%f: tensor<2x4xf32>, %x: tensor<2x4x!quant.uniform<i8:f32, 0.5>>, %ids: tensor<2xi64>) -> (tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x4xf32>) {
  %w = mu.constant dense<1> : tensor<3x4xi8>
  %wq = quant.scast %w : tensor<3x4xi8> to tensor<3x4x!quant.uniform<i8<-127:127>:f32:0, {0.1, 0.2, 0.3}>>
  %a = muk.linear %f, %wq {absent = array<i32: 2>} : (tensor<2x4xf32>, tensor<3x4x!quant.uniform<i8<-127:127>:f32:0, {0.1, 0.2, 0.3}>>) -> tensor<2x3xf32>
  %m = mu.constant dense<-128> : tensor<3x4xi8>
  %mq = quant.scast %m : tensor<3x4xi8> to tensor<3x4x!quant.uniform<i8:f32:0, {0.1, 0.2, 0.3}>>
  %b = muk.linear %x, %mq {absent = array<i32: 2>} : (tensor<2x4x!quant.uniform<i8:f32, 0.5>>, tensor<3x4x!quant.uniform<i8:f32:0, {0.1, 0.2, 0.3}>>) -> tensor<2x3xf32>
  %z = mu.constant dense<2> : tensor<3x4xi8>
  %zq = quant.scast %z : tensor<3x4xi8> to tensor<3x4x!quant.uniform<i8:f32:0, {0.1:1, 0.2, 0.3}>>
  %c = muk.linear %x, %zq {absent = array<i32: 2>} : (tensor<2x4x!quant.uniform<i8:f32, 0.5>>, tensor<3x4x!quant.uniform<i8:f32:0, {0.1:1, 0.2, 0.3}>>) -> tensor<2x3xf32>
  %g = mu.constant dense<3> : tensor<3x4xi8>
  %gq = quant.scast %g : tensor<3x4xi8> to tensor<3x4x!quant.uniform<i8<-127:127>:f32:0, {0.1, 0.2, 0.3}>>
  %e = muk.gather %gq, %ids {ints = array<i64: 0>} : (tensor<3x4x!quant.uniform<i8<-127:127>:f32:0, {0.1, 0.2, 0.3}>>, tensor<2xi64>) -> tensor<2x4xf32>
  return %a, %b, %c, %e : tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x4xf32>
}
