// RUN: not mu-opt %s --mu-static-shapes="prefill-chunk=4 max-context=16" 2>&1 | FileCheck %s

// A mask over [0, position] has a length only known at run time: the
// decoder-only program cannot be made static, and the error names the op.
// CHECK: error: mu-static-shapes: result 'tensor<?xi64>' of 'mu.range' stays dynamic in @decode
func.func @prefill(%ids: tensor<1x?xi64> {mu.name = "input_ids"}, %pos: tensor<i64> {mu.name = "position"},
                   %k: tensor<1x2x?x4xf32> {mu.state = "k_cache_0"}, %v: tensor<1x2x?x4xf32> {mu.state = "v_cache_0"})
    -> (tensor<1x2x?x4xf32>, tensor<1x2x?x4xf32>, tensor<1x2x?x4xf32>) {
  %q = mu.constant dense<1.0> : tensor<1x2x1x4xf32>
  %o, %p:2 = mu.attention %q, %q, %q past(%k, %v : tensor<1x2x?x4xf32>, tensor<1x2x?x4xf32>) {causal = true, scale = 0.5 : f32} : tensor<1x2x1x4xf32>, tensor<1x2x1x4xf32>, tensor<1x2x1x4xf32> -> tensor<1x2x?x4xf32>, tensor<1x2x?x4xf32>, tensor<1x2x?x4xf32>
  return %o, %p#0, %p#1 : tensor<1x2x?x4xf32>, tensor<1x2x?x4xf32>, tensor<1x2x?x4xf32>
}
func.func @decode(%ids: tensor<1x?xi64> {mu.name = "input_ids"}, %pos: tensor<i64> {mu.name = "position"},
                  %k: tensor<1x2x?x4xf32> {mu.state = "k_cache_0"}, %v: tensor<1x2x?x4xf32> {mu.state = "v_cache_0"})
    -> (tensor<?xi64>, tensor<1x2x?x4xf32>, tensor<1x2x?x4xf32>) {
  %z = mu.constant dense<0> : tensor<i64>
  %one = mu.constant dense<1> : tensor<i64>
  %end = mu.add %pos, %one : tensor<i64>, tensor<i64>
  %r = mu.range %z, %end, %one : tensor<i64>, tensor<i64>, tensor<i64> -> tensor<?xi64>
  %q = mu.constant dense<1.0> : tensor<1x2x1x4xf32>
  %o, %p:2 = mu.attention %q, %q, %q past(%k, %v : tensor<1x2x?x4xf32>, tensor<1x2x?x4xf32>) {causal = true, scale = 0.5 : f32} : tensor<1x2x1x4xf32>, tensor<1x2x1x4xf32>, tensor<1x2x1x4xf32> -> tensor<1x2x?x4xf32>, tensor<1x2x?x4xf32>, tensor<1x2x?x4xf32>
  return %r, %p#0, %p#1 : tensor<?xi64>, tensor<1x2x?x4xf32>, tensor<1x2x?x4xf32>
}
