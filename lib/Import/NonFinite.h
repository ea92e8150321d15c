//===- NonFinite.h - NaN/Inf scans of raw weight data -----------*- C++ -*-===//
///
/// \file
/// Shared by the importers: the first element of raw little-endian float
/// data (binary16, bfloat16, binary32, binary64) that is NaN, or NaN or
/// infinite. Internal to lib/Import.
///
//===----------------------------------------------------------------------===//
#ifndef MU_LIB_IMPORT_NONFINITE_H
#define MU_LIB_IMPORT_NONFINITE_H

#include <cmath>
#include <cstdint>
#include <cstring>

namespace mu {

enum class RawFloat { F16, BF16, F32, F64 };

/// Index of the first NaN (or, with `infToo`, infinity) among the `len`
/// bytes at `data`, or -1.
inline int64_t firstNonFinite(const char *data, size_t len, RawFloat kind, bool infToo) {
  if (kind == RawFloat::F32 || kind == RawFloat::F64) {
    size_t esz = kind == RawFloat::F32 ? 4 : 8;
    for (size_t i = 0; i + esz <= len; i += esz) {
      double v;
      if (esz == 4) {
        float f;
        std::memcpy(&f, data + i, 4);
        v = f;
      } else {
        std::memcpy(&v, data + i, 8);
      }
      if (std::isnan(v) || (infToo && std::isinf(v)))
        return int64_t(i / esz);
    }
    return -1;
  }
  // binary16: exponent 0x7c00; bfloat16: 0x7f80. All ones: inf (mantissa 0)
  // or NaN.
  uint16_t exp = kind == RawFloat::F16 ? 0x7c00 : 0x7f80;
  for (size_t i = 0; i + 2 <= len; i += 2) {
    uint16_t h;
    std::memcpy(&h, data + i, 2);
    if ((h & exp) == exp && (infToo || (h & uint16_t(~exp & 0x7fff)) != 0))
      return int64_t(i / 2);
  }
  return -1;
}

} // namespace mu

#endif // MU_LIB_IMPORT_NONFINITE_H
