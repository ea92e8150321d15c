//===- Half.h - IEEE binary16 / bfloat16 conversions -----------*- C++ -*-===//
#ifndef MU_SUPPORT_HALF_H
#define MU_SUPPORT_HALF_H

#include <cstdint>
#include <cstring>

namespace mu {

/// binary16 -> binary32, exact (handles subnormals, inf, NaN).
inline float halfToFloat(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else { // subnormal: normalize
      exp = 127 - 15 + 1;
      while ((mant & 0x400) == 0) {
        mant <<= 1;
        --exp;
      }
      mant &= 0x3ff;
      bits = sign | (exp << 23) | (mant << 13);
    }
  } else if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

/// binary32 -> binary16, round to nearest even, overflow to inf.
inline uint16_t floatToHalf(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000;
  uint32_t absx = x & 0x7fffffffu;
  if (absx >= 0x7f800000u) // inf or NaN
    return uint16_t(sign | 0x7c00 | (absx > 0x7f800000u ? 0x200 : 0));
  if (absx >= 0x477ff000u) // rounds to >= 65520: overflow
    return uint16_t(sign | 0x7c00);
  if (absx < 0x38800000u) { // subnormal or zero in half
    if (absx < 0x33000000u)
      return uint16_t(sign);
    uint32_t mant = (absx & 0x7fffff) | 0x800000;
    int shift = 113 - int(absx >> 23) + 13;
    uint32_t half = mant >> shift;
    uint32_t rem = mant & ((1u << shift) - 1);
    uint32_t mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (half & 1)))
      ++half;
    return uint16_t(sign | half);
  }
  uint32_t r = absx + 0xc8000fffu + ((absx >> 13) & 1); // rebias + round
  return uint16_t(sign | (r >> 13));
}

inline float bf16ToFloat(uint16_t h) {
  uint32_t bits = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

} // namespace mu

#endif // MU_SUPPORT_HALF_H
