// RUN: mu-opt %s --split-input-file --verify-diagnostics

func.func @reshape_count(%x: tensor<2x3xf32>) -> tensor<7xf32> {
  // expected-error @+1 {{element count changes: 'tensor<2x3xf32>' (6) -> 'tensor<7xf32>' (7)}}
  %y = mu.reshape %x : tensor<2x3xf32> -> tensor<7xf32>
  return %y : tensor<7xf32>
}

// -----

func.func @reshape_two_dynamic(%x: tensor<?x4xf32>) -> tensor<?x?xf32> {
  // expected-error @+1 {{at most one result dim may be dynamic}}
  %y = mu.reshape %x : tensor<?x4xf32> -> tensor<?x?xf32>
  return %y : tensor<?x?xf32>
}

// -----

func.func @broadcast_bad(%x: tensor<3x4xf32>) -> tensor<2x4xf32> {
  // expected-error @+1 {{cannot broadcast dim 0}}
  %y = mu.broadcast_to %x : tensor<3x4xf32> -> tensor<2x4xf32>
  return %y : tensor<2x4xf32>
}

// -----

func.func @add_mismatch(%a: tensor<3x4xf32>, %b: tensor<5xf32>) -> tensor<3x4xf32> {
  // expected-error @+1 {{are not broadcast-compatible}}
  %y = mu.add %a, %b : tensor<3x4xf32>, tensor<5xf32>
  return %y : tensor<3x4xf32>
}

// -----

func.func @add_types(%a: tensor<4xf32>, %b: tensor<4xf16>) -> tensor<4xf32> {
  // expected-error @+1 {{operand element types differ}}
  %y = mu.add %a, %b : tensor<4xf32>, tensor<4xf16>
  return %y : tensor<4xf32>
}

// -----

func.func @transpose_perm(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  // expected-error @+1 {{is not a permutation}}
  %y = mu.transpose %x [0, 0] : tensor<2x3xf32>
  return %y : tensor<2x3xf32>
}

// -----

func.func @linear_in(%x: tensor<2x8xf32>, %w: tensor<4x6xf32>) -> tensor<2x4xf32> {
  // expected-error @+1 {{input features 8 do not match weight [out, in]}}
  %y = mu.linear %x, %w : tensor<2x8xf32>, tensor<4x6xf32>
  return %y : tensor<2x4xf32>
}

// -----

func.func @rms_weight(%x: tensor<2x8xf32>, %w: tensor<6xf32>) -> tensor<2x8xf32> {
  // expected-error @+1 {{weight has 6 elements but the normalized dim is 8}}
  %y = mu.rms_norm %x weight(%w : tensor<6xf32>) {epsilon = 1.0e-5 : f32} : tensor<2x8xf32>
  return %y : tensor<2x8xf32>
}

// -----

func.func @gqa_heads(%q: tensor<1x6x4x8xf32>, %k: tensor<1x4x4x8xf32>) -> tensor<1x6x4x8xf32> {
  // expected-error @+1 {{query heads 6 are not a multiple of kv heads 4}}
  %o = mu.attention %q, %k, %k {causal = true, scale = 1.0 : f32} : tensor<1x6x4x8xf32>, tensor<1x4x4x8xf32>, tensor<1x4x4x8xf32> -> tensor<1x6x4x8xf32>
  return %o : tensor<1x6x4x8xf32>
}

// -----

func.func @rope_odd(%x: tensor<1x2x4x7xf32>, %c: tensor<4x7xf32>) -> tensor<1x2x4x7xf32> {
  // expected-error @+1 {{head_dim 7 must be even}}
  %y = mu.rope %x, %c, %c {mode = #mu.rope_mode<rotate_half>} : tensor<1x2x4x7xf32>, tensor<4x7xf32>, tensor<4x7xf32>
  return %y : tensor<1x2x4x7xf32>
}

// -----

func.func @softmax_axis(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  // expected-error @+1 {{axis 2 out of range}}
  %y = mu.softmax %x {axis = 2 : i64} : tensor<2x3xf32>
  return %y : tensor<2x3xf32>
}

// -----

func.func @matmul_k(%a: tensor<2x3xf32>, %b: tensor<4x5xf32>) -> tensor<2x5xf32> {
  // expected-error @+1 {{matmul contraction dims differ: 3 vs 4}}
  %y = mu.matmul %a, %b : tensor<2x3xf32>, tensor<4x5xf32>
  return %y : tensor<2x5xf32>
}
