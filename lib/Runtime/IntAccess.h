//===- IntAccess.h - element access of quantized integer tensors -*- C++ -*-===//
///
/// \file
/// Shared by the reference kernels and the optimized linear's epilogue (so
/// both saturate and widen the same way). Portable code only: not for the
/// ISA-specific files.
///
//===----------------------------------------------------------------------===//
#ifndef MU_RUNTIME_INTACCESS_H
#define MU_RUNTIME_INTACCESS_H

#include "mu/runtime/Runtime.h"

#include <algorithm>
#include <cstdint>

namespace mu {
namespace rt {

/// Integer range a quantized tensor saturates to: its [qmin, qmax] when
/// set, else the storage type's full range.
inline void storageRange(const TensorRef &t, int32_t &lo, int32_t &hi) {
  switch (t.dtype) {
  case DType::I8:
    lo = -128;
    hi = 127;
    break;
  case DType::U8:
    lo = 0;
    hi = 255;
    break;
  case DType::U16:
    lo = 0;
    hi = 65535;
    break;
  default:
    lo = -32768;
    hi = 32767;
    break;
  }
  if (t.quant && (t.quant->qmin != 0 || t.quant->qmax != 0)) {
    lo = int32_t(std::max<int64_t>(lo, t.quant->qmin));
    hi = int32_t(std::min<int64_t>(hi, t.quant->qmax));
  }
}

/// Element i of an int8/uint8/int16/uint16/int32 tensor (0 for other dtypes).
inline int32_t loadInt(const TensorRef &t, int64_t i) {
  switch (t.dtype) {
  case DType::I8: return static_cast<const int8_t *>(t.data)[i];
  case DType::U8: return static_cast<const uint8_t *>(t.data)[i];
  case DType::I16: return static_cast<const int16_t *>(t.data)[i];
  case DType::U16: return static_cast<const uint16_t *>(t.data)[i];
  case DType::I32: return static_cast<const int32_t *>(t.data)[i];
  default: return 0;
  }
}

/// Stores an already saturated value into an int8/uint8/int16/uint16 tensor.
inline void storeInt(TensorRef &t, int64_t i, int32_t v) {
  switch (t.dtype) {
  case DType::I8: static_cast<int8_t *>(t.data)[i] = int8_t(v); break;
  case DType::U8: static_cast<uint8_t *>(t.data)[i] = uint8_t(v); break;
  case DType::I16: static_cast<int16_t *>(t.data)[i] = int16_t(v); break;
  case DType::U16: static_cast<uint16_t *>(t.data)[i] = uint16_t(v); break;
  default: break;
  }
}

} // namespace rt
} // namespace mu

#endif // MU_RUNTIME_INTACCESS_H
