//===- Packing.h - packed weight layouts (compiler <-> kernels) -*- C++ -*-===//
///
/// \file
/// The packed-weight interface shared by the compiler (which packs weights
/// once, when it writes the artifact) and the runtime's kernels (which read
/// them in place: no repacking at load or per call). Plain C++17, header
/// only. docs/artifact-format.md describes the same bytes.
///
/// Layout `I8N16K4` of a 2-d int8 weight W[N, K] (N output channels, K
/// inputs), symmetric, values in [-127, 127]:
///   Np = round_up(N, 16), Kp = round_up(K, 4)
///   bytes [0, Np*Kp): tiles of 16 channels; in tile t, group g of 4 inputs,
///     lane c, input j:  byte ((t * Kp/4 + g) * 16 + c) * 4 + j
///                       = W[16t + c, 4g + j]   (0 outside [N, K])
///   bytes [Np*Kp, Np*Kp + 4*Np): int32 little-endian row sums
///     sum_k W[n, k] (0 for padding rows)
/// One 64-byte load is a 16-channel x 4-input block (AVX-512 VNNI
/// `vpdpbusd`), 32 bytes an 8-channel half (AVX2), 16 bytes 4 channels
/// (NEON `sdot`). The row sums let an activation zero point (or the +128
/// offset of unsigned dot products) be corrected exactly after the dot.
///
//===----------------------------------------------------------------------===//
#ifndef MU_RUNTIME_PACKING_H
#define MU_RUNTIME_PACKING_H

#include <cstdint>
#include <cstring>

namespace mu {
namespace rt {

// The library's API: exported even when libmu_runtime.so is built with
// hidden visibility (its internals are not part of the ABI).
#pragma GCC visibility push(default)

/// Storage layout of a constant tensor (mirrors mub::Layout).
enum class Layout : int8_t { RowMajor = 0, I8N16K4 = 1 };

constexpr int64_t kPackTileN = 16; ///< channels per tile
constexpr int64_t kPackGroupK = 4; ///< inputs per group

inline int64_t packedRows(int64_t n) { return (n + kPackTileN - 1) / kPackTileN * kPackTileN; }
inline int64_t packedCols(int64_t k) { return (k + kPackGroupK - 1) / kPackGroupK * kPackGroupK; }

/// Bytes of an I8N16K4 weight of logical shape [n, k] (tiles + row sums).
inline uint64_t packedI8Bytes(int64_t n, int64_t k) {
  return uint64_t(packedRows(n)) * uint64_t(packedCols(k)) + 4 * uint64_t(packedRows(n));
}

/// Byte offset of W[r, c] inside the tiles.
inline uint64_t packedI8Offset(int64_t r, int64_t c, int64_t k) {
  int64_t kp = packedCols(k);
  return (uint64_t((r / kPackTileN) * (kp / kPackGroupK) + c / kPackGroupK) * kPackTileN +
          uint64_t(r % kPackTileN)) * kPackGroupK + uint64_t(c % kPackGroupK);
}

/// Packs row-major w[n, k] into `out` (packedI8Bytes(n, k) bytes). Returns
/// false (out unspecified) if a value is -128: the layout's kernels rely on
/// |w| <= 127.
inline bool packI8N16K4(const int8_t *w, int64_t n, int64_t k, uint8_t *out) {
  int64_t np = packedRows(n), kp = packedCols(k);
  std::memset(out, 0, size_t(packedI8Bytes(n, k)));
  uint8_t *sums = out + np * kp;
  for (int64_t r = 0; r < n; ++r) {
    int32_t s = 0;
    for (int64_t c = 0; c < k; ++c) {
      int8_t v = w[r * k + c];
      if (v == -128)
        return false;
      out[packedI8Offset(r, c, k)] = uint8_t(v);
      s += v;
    }
    std::memcpy(sums + 4 * r, &s, 4);
  }
  return true;
}

/// Row sums of a packed weight (np int32 values; may be unaligned).
inline int32_t packedI8RowSum(const uint8_t *packed, int64_t n, int64_t k, int64_t r) {
  int32_t s;
  std::memcpy(&s, packed + packedRows(n) * packedCols(k) + 4 * r, 4);
  return s;
}

/// Copies row r of a packed weight into dst[0, k).
inline void unpackI8Row(const uint8_t *packed, int64_t n, int64_t k, int64_t r, int8_t *dst) {
  (void)n;
  for (int64_t c = 0; c < k; ++c)
    dst[c] = int8_t(packed[packedI8Offset(r, c, k)]);
}

#pragma GCC visibility pop

} // namespace rt
} // namespace mu

#endif // MU_RUNTIME_PACKING_H
