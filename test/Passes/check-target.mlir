// RUN: mu-opt %s --mu-check-target=target-file=%S/Inputs/tiny-target.json | FileCheck %s
// RUN: not mu-opt %s --mu-check-target="target-file=%S/Inputs/tiny-target.json no-fallback=true" 2>&1 | FileCheck %s --check-prefix=ERR
// RUN: not mu-opt %s --mu-check-target="target-file=%S/Inputs/tiny-target.json scheme=w16a16" 2>&1 | FileCheck %s --check-prefix=SCHEME
// RUN: not mu-opt %s --mu-check-target=target-file=%S/no-such-target.json 2>&1 | FileCheck %s --check-prefix=NOFILE

// With CPU fallback the ops that break a rule are placed on the CPU; the
// rest stay on the target (no attribute).
// CHECK-LABEL: func.func @f
// CHECK: muk.quantize %{{.*}} : (tensor<2x4xf32>) -> tensor<2x4x!quant.uniform<u8:f32, 1.000000e-01:128>>
// CHECK-NOT: muk.device
// CHECK: muk.linear
// CHECK-NOT: muk.device
// CHECK: muk.exp %{{.*}} {muk.device = "cpu"}
// CHECK: muk.quantize %{{.*}} {muk.device = "cpu"}
// CHECK: muk.sigmoid %{{.*}} {muk.device = "cpu"}
// CHECK: muk.sigmoid %{{.*}} :
// CHECK: muk.reshape %{{.*}} {muk.device = "cpu"}

// Without fallback every violation is an error naming the node.
// ERR-DAG: error: {{.*}}target 'tiny-npu': 'act' (exp, @f): op 'exp' is not supported
// ERR-DAG: error: {{.*}}target 'tiny-npu': 'bad.q' (quantize, @f): output 0 is i8 (allowed: u8)
// ERR-DAG: error: {{.*}}target 'tiny-npu': 'bad.q' (quantize, @f): activation is i8; the target encodes activations as uint-asymmetric
// ERR-DAG: error: {{.*}}target 'tiny-npu': 'gate' (sigmoid, @f): output must have the fixed encoding scale 0.00390625 zero point 0
// ERR-DAG: error: {{.*}}target 'tiny-npu': 'rank4' (reshape, @f): output 0 has rank 4 (max 3)
// ERR-NOT: 'proj'
// ERR-NOT: 'gate.ok'

// SCHEME: scheme 'w16a16' is not allowed by target 'tiny-npu' (w8a8)
// NOFILE: cannot read target file '{{.*}}no-such-target.json'

func.func @f(%x: tensor<2x4xf32>) -> (tensor<2x3xf32>, tensor<2x3x!quant.uniform<i8:f32, 0.1>>, tensor<2x3x!quant.uniform<u8:f32, 0.01>>, tensor<2x3x!quant.uniform<u8:f32, 0.00390625>>, tensor<1x1x2x3xf32>) {
  %q = muk.quantize %x : (tensor<2x4xf32>) -> tensor<2x4x!quant.uniform<u8:f32, 0.1:128>> loc("in.q")
  %w = mu.constant dense<1> : tensor<3x4xi8>
  %wq = quant.scast %w : tensor<3x4xi8> to tensor<3x4x!quant.uniform<i8<-127:127>:f32:0, {0.1, 0.2, 0.3}>>
  %y = muk.linear %q, %wq {absent = array<i32: 2>} : (tensor<2x4x!quant.uniform<u8:f32, 0.1:128>>, tensor<3x4x!quant.uniform<i8<-127:127>:f32:0, {0.1, 0.2, 0.3}>>) -> tensor<2x3xf32> loc("proj")
  %e = muk.exp %y : (tensor<2x3xf32>) -> tensor<2x3xf32> loc("act")
  %b = muk.quantize %e : (tensor<2x3xf32>) -> tensor<2x3x!quant.uniform<i8:f32, 0.1>> loc("bad.q")
  %s = muk.sigmoid %y : (tensor<2x3xf32>) -> tensor<2x3x!quant.uniform<u8:f32, 0.01>> loc("gate")
  %s2 = muk.sigmoid %y : (tensor<2x3xf32>) -> tensor<2x3x!quant.uniform<u8:f32, 0.00390625>> loc("gate.ok")
  %r = muk.reshape %y : (tensor<2x3xf32>) -> tensor<1x1x2x3xf32> loc("rank4")
  return %y, %b, %s, %s2, %r : tensor<2x3xf32>, tensor<2x3x!quant.uniform<i8:f32, 0.1>>, tensor<2x3x!quant.uniform<u8:f32, 0.01>>, tensor<2x3x!quant.uniform<u8:f32, 0.00390625>>, tensor<1x1x2x3xf32>
}
