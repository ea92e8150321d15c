//===- LinearAmx.cpp - AMX-INT8 tile kernels for prefill ------------------===//
///
/// \file
/// The int8 x int8 linear on Intel AMX (Sapphire Rapids and later): TDPBSSD
/// multiplies a 16 x 64 tile of signed activations by a 16-group x 16-
/// channel tile of signed weights into 16 x 16 int32 sums, 16K multiply-adds
/// per instruction. The I8N16K4 packing of mu/runtime/Packing.h is already
/// AMX's B layout (each 64-byte group is 4 consecutive inputs of 16
/// channels), so weight tiles load straight from the artifact with a 64-byte
/// stride; activation rows load with their own stride. Signed x signed needs
/// no +128 bias, and int32 sums are exact for K < 2^17, so results equal the
/// reference bit for bit.
///
/// Used where AMX pays: 16 or more rows (prefill) and K a multiple of 64;
/// leftover rows, other K and int16 activations run the AVX-512 VNNI
/// kernels. Each call loads the tile configuration and releases the tiles
/// when it returns (AMX state is per thread).
///
//===----------------------------------------------------------------------===//
#include "Linear.h"

#include <immintrin.h>

namespace mu {
namespace rt {
namespace cpu {
namespace {

/// Palette 1: every tile 16 rows x 64 bytes (C: 16 x 16 int32; A: 16 rows x
/// 64 inputs; B: 16 groups x 16 channels x 4 inputs).
struct alignas(64) TileConfig {
  uint8_t palette = 1;
  uint8_t startRow = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

void loadConfig() {
  TileConfig cfg;
  for (int i = 0; i < 8; ++i) {
    cfg.colsb[i] = 64;
    cfg.rows[i] = 16;
  }
  _tile_loadconfig(&cfg);
}

/// 16 rows x 16 int32 sums (a stored C tile) into int64 acc.
inline void widen(const int32_t *buf, int64_t *acc, int64_t ldacc) {
  for (int r = 0; r < 16; ++r) {
    __m512i v = _mm512_load_si512(buf + r * 16);
    _mm512_storeu_si512(acc + r * ldacc, _mm512_cvtepi32_epi64(_mm512_castsi512_si256(v)));
    _mm512_storeu_si512(acc + r * ldacc + 8,
                        _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(v, 1)));
  }
}

constexpr int64_t kAhead = 64; // groups: 4 steps of 16

/// RB row blocks (16 rows each) x NB weight tiles: C tiles 0..3, A tiles 4
/// and 5, B tiles 6 and 7.
template <int RB, int NB>
void block(const int8_t *x, int64_t ldx, const uint8_t *w0, const uint8_t *w1, int64_t groups,
           int64_t *acc, int64_t ldacc) {
  _tile_zero(0);
  if constexpr (NB == 2) _tile_zero(1);
  if constexpr (RB == 2) _tile_zero(2);
  if constexpr (RB == 2 && NB == 2) _tile_zero(3);
  for (int64_t g = 0; g < groups; g += 16) {
    // The first pass over a weight tile streams it from L3/DRAM: keep
    // requests for the tiles' next 4 KB in flight so the tile loads find
    // them in cache (the hardware prefetcher alone leaves the dots waiting).
    if (g + kAhead < groups)
      for (int l = 0; l < 16; ++l) {
        _mm_prefetch(reinterpret_cast<const char *>(w0 + (g + kAhead) * 64 + l * 64), _MM_HINT_T0);
        if constexpr (NB == 2)
          _mm_prefetch(reinterpret_cast<const char *>(w1 + (g + kAhead) * 64 + l * 64), _MM_HINT_T0);
      }
    _tile_loadd(4, x + 4 * g, ldx);
    if constexpr (RB == 2) _tile_loadd(5, x + 16 * ldx + 4 * g, ldx);
    _tile_loadd(6, w0 + g * 64, 64);
    if constexpr (NB == 2) _tile_loadd(7, w1 + g * 64, 64);
    _tile_dpbssd(0, 4, 6);
    if constexpr (NB == 2) _tile_dpbssd(1, 4, 7);
    if constexpr (RB == 2) _tile_dpbssd(2, 5, 6);
    if constexpr (RB == 2 && NB == 2) _tile_dpbssd(3, 5, 7);
  }
  // Tile numbers must be literals (the intrinsics paste them into asm).
  alignas(64) int32_t buf[16 * 16];
  _tile_stored(0, buf, 64);
  widen(buf, acc, ldacc);
  if constexpr (NB == 2) {
    _tile_stored(1, buf, 64);
    widen(buf, acc + 16, ldacc);
  }
  if constexpr (RB == 2) {
    _tile_stored(2, buf, 64);
    widen(buf, acc + 16 * ldacc, ldacc);
  }
  if constexpr (RB == 2 && NB == 2) {
    _tile_stored(3, buf, 64);
    widen(buf, acc + 16 * ldacc + 16, ldacc);
  }
}

template <int RB>
void rows(const int8_t *x, int64_t ldx, const uint8_t *w, int64_t groups, int64_t t0, int64_t t1,
          int64_t *acc, int64_t ldacc) {
  int64_t t = t0;
  for (; t + 2 <= t1; t += 2)
    block<RB, 2>(x, ldx, w + t * groups * 64, w + (t + 1) * groups * 64, groups,
                 acc + (t - t0) * 16, ldacc);
  if (t < t1)
    block<RB, 1>(x, ldx, w + t * groups * 64, nullptr, groups, acc + (t - t0) * 16, ldacc);
}

void dotI8(const int8_t *x, int64_t m, int64_t ldx, const uint8_t *w, int64_t n, int64_t k,
           int64_t t0, int64_t t1, int64_t *acc, int64_t ldacc) {
  const KernelTable &vnni = avx512Kernels();
  if (m < 16 || k % 64 != 0 || k >= (int64_t(1) << 17)) {
    vnni.dotI8(x, m, ldx, w, n, k, t0, t1, acc, ldacc);
    return;
  }
  int64_t groups = k / 4, r = 0;
  loadConfig();
  for (; r + 32 <= m; r += 32)
    rows<2>(x + r * ldx, ldx, w, groups, t0, t1, acc + r * ldacc, ldacc);
  for (; r + 16 <= m; r += 16)
    rows<1>(x + r * ldx, ldx, w, groups, t0, t1, acc + r * ldacc, ldacc);
  _tile_release();
  if (r < m)
    vnni.dotI8(x + r * ldx, m - r, ldx, w, n, k, t0, t1, acc + r * ldacc, ldacc);
}

} // namespace

const KernelTable &amxKernels() {
  static const KernelTable t = [] {
    KernelTable k = avx512Kernels();
    k.dotI8 = dotI8;
    return k;
  }();
  return t;
}

} // namespace cpu
} // namespace rt
} // namespace mu
