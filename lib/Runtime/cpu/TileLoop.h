//===- TileLoop.h - the tile/row loop of the ISA dot kernels ----*- C++ -*-===//
///
/// \file
/// Included by the ISA-specific files only. Everything here has internal
/// linkage (anonymous namespace), so each ISA file compiles its own copy
/// with its own target flags and none can leak into portable code.
///
//===----------------------------------------------------------------------===//
#ifndef MU_RUNTIME_CPU_TILELOOP_H
#define MU_RUNTIME_CPU_TILELOOP_H

#include <cstdint>

namespace mu {
namespace rt {
namespace cpu {
namespace {

/// packedCols(k) / 4: 4-input groups per packed row.
inline int64_t groupsOf(int64_t k) { return (k + 3) / 4; }

/// Runs `block(x_rows, tile, groups, acc_rows)` over the 16-channel tiles
/// [t0, t1) of a packed weight and rows [0, m) in blocks of MR rows, then
/// `single(...)` on the remaining rows one at a time.
template <int MR, typename X, typename Block, typename Single>
inline void eachTileRows(const X *x, int64_t m, int64_t ldx, const uint8_t *w, int64_t k,
                         int64_t t0, int64_t t1, int64_t *acc, int64_t ldacc, Block block,
                         Single single) {
  int64_t groups = groupsOf(k);
  for (int64_t t = t0; t < t1; ++t) {
    const uint8_t *tile = w + t * groups * 64;
    int64_t *at = acc + (t - t0) * 16;
    int64_t r = 0;
    for (; r + MR <= m; r += MR)
      block(x + r * ldx, tile, groups, at + r * ldacc);
    for (; r < m; ++r)
      single(x + r * ldx, tile, groups, at + r * ldacc);
  }
}

} // namespace
} // namespace cpu
} // namespace rt
} // namespace mu

#endif // MU_RUNTIME_CPU_TILELOOP_H
