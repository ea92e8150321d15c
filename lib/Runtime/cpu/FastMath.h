//===- FastMath.h - exp and SiLU in f32, the same in every family -*- C++ -*-===//
///
/// \file
/// The f32 exp behind the Glu (SwiGLU) kernels: Cephes' expf (range
/// reduction by ln 2 split in two, a degree-5 polynomial, the exponent
/// added as bits), a few ulp from exp over its range. Every step is one
/// IEEE f32 operation in a fixed order (the runtime builds with
/// -ffp-contract=off), so the scalar code below and the SIMD versions in
/// the ISA files give the same bits: the kernel family never changes a
/// result. Inputs are clamped to [kExpLo, kExpHi] (exp stays finite and
/// normal); NaN becomes kExpLo, as the SIMD max/min do.
///
//===----------------------------------------------------------------------===//
#ifndef MU_RUNTIME_CPU_FASTMATH_H
#define MU_RUNTIME_CPU_FASTMATH_H

#include <cstdint>
#include <cstring>

namespace mu {
namespace rt {
namespace fm {

constexpr float kExpHi = 88.0f;  // n <= 127: 2^n stays a finite float
constexpr float kExpLo = -87.0f; // n >= -126: 2^n stays normal
constexpr float kLog2e = 1.44269504088896341f;
constexpr float kLn2Hi = 0.693359375f;       // exact in 9 bits: n * kLn2Hi is exact
constexpr float kLn2Lo = -2.12194440e-4f;
constexpr float kRound = 12582912.0f;        // 1.5 * 2^23: adding it rounds to even
constexpr float kP0 = 1.9875691500e-4f, kP1 = 1.3981999507e-3f, kP2 = 8.3334519073e-3f,
                kP3 = 4.1665795894e-2f, kP4 = 1.6666665459e-1f, kP5 = 5.0000001201e-1f;

/// As _mm*_max_ps(a, b) / _mm*_min_ps(a, b): the second operand when
/// either is NaN.
inline float maxLikeSse(float a, float b) { return a > b ? a : b; }
inline float minLikeSse(float a, float b) { return a < b ? a : b; }

inline float exp(float x) {
  x = minLikeSse(maxLikeSse(x, kExpLo), kExpHi);
  float n = (x * kLog2e + kRound) - kRound;
  float r = x - n * kLn2Hi;
  r = r - n * kLn2Lo;
  float p = kP0;
  p = p * r + kP1;
  p = p * r + kP2;
  p = p * r + kP3;
  p = p * r + kP4;
  p = p * r + kP5;
  float y = p * (r * r);
  y = y + r;
  y = y + 1.0f;
  int32_t bits = (int32_t(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, 4);
  return y * scale;
}

/// silu(g) * u = g / (1 + exp(-g)) * u.
inline float siluMul(float g, float u) { return g / (1.0f + exp(-g)) * u; }

/// The tanh approximation of GELU, 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715
/// x^3))), written as x / (1 + exp(-2 sqrt(2/pi) (x + 0.044715 x^3))) (the
/// same function; no cancellation in the negative tail).
constexpr float kGeluCubic = 0.044715f, kGeluScale = -1.5957691216057308f; // -2 sqrt(2/pi)
inline float geluTanh(float x) {
  float z = x * x;
  z = z * x;
  z = z * kGeluCubic;
  z = z + x;
  z = z * kGeluScale;
  return x / (1.0f + exp(z));
}

} // namespace fm
} // namespace rt
} // namespace mu

#endif // MU_RUNTIME_CPU_FASTMATH_H
