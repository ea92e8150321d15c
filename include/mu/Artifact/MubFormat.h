//===- MubFormat.h - .mub file header ---------------------------*- C++ -*-===//
///
/// \file
/// The fixed 64-byte header in front of the FlatBuffer (mub.fbs) and the
/// constant data. Plain C++17: shared by the compiler's writer and the runtime.
///
//===----------------------------------------------------------------------===//
#ifndef MU_ARTIFACT_MUBFORMAT_H
#define MU_ARTIFACT_MUBFORMAT_H

#include <cstdint>

namespace mu {

constexpr uint32_t kMubFormatVersion = 4;
/// Version of the .mua adapter file (mua.fbs).
constexpr uint32_t kMuaFormatVersion = 1;
/// Oldest version the runtime still reads (version 1: no packed layouts).
constexpr uint32_t kMubMinFormatVersion = 1;
constexpr uint64_t kMubHeaderSize = 64;
constexpr uint64_t kMubAlignment = 64;

struct MubHeader {
  char magic[4];           ///< "MUB\0" (.mua adapter files: "MUA\0")
  uint32_t formatVersion;  ///< kMubFormatVersion
  uint64_t flatbufferOffset;
  uint64_t flatbufferSize;
  uint64_t dataOffset;     ///< 64-aligned start of the constant segments
  uint64_t dataSize;
  uint64_t fileSize;       ///< whole file, to detect truncation
  uint8_t reserved[12];
};
static_assert(sizeof(MubHeader) == kMubHeaderSize, "header is 64 bytes");

inline uint64_t alignTo(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

/// The header of a file laid out as header, FlatBuffer of `flatbufferSize`
/// bytes, then `dataSize` bytes of constants from the next 64-byte boundary.
/// `magic` is "MUB" or "MUA" (the fourth byte is 0).
inline MubHeader makeHeader(const char (&magic)[4], uint32_t formatVersion,
                            uint64_t flatbufferSize, uint64_t dataSize) {
  MubHeader h{};
  for (int i = 0; i < 4; ++i)
    h.magic[i] = magic[i];
  h.formatVersion = formatVersion;
  h.flatbufferOffset = kMubHeaderSize;
  h.flatbufferSize = flatbufferSize;
  h.dataOffset = alignTo(kMubHeaderSize + flatbufferSize, kMubAlignment);
  h.dataSize = dataSize;
  h.fileSize = h.dataOffset + dataSize;
  return h;
}

} // namespace mu

#endif // MU_ARTIFACT_MUBFORMAT_H
