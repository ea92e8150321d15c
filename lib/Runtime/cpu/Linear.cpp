//===- Linear.cpp - optimized linear kernels: dispatch, epilogue ----------===//
///
/// \file
/// Splits a linear over the thread pool by 16-channel tiles (every output
/// is computed by the same instructions whatever the thread count, so
/// results do not depend on it), runs the selected ISA's dot kernel on
/// chunks of tiles and applies the reference epilogue. Also holds the
/// portable dot kernels (plain C++ over the packed layout).
///
//===----------------------------------------------------------------------===//
#include "Linear.h"
#include "FastMath.h"

#include "../IntAccess.h"

#include "mu/Support/Half.h"
#include "mu/runtime/Packing.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <type_traits>

namespace mu {
namespace rt {
namespace cpu {

namespace {

/// Runs groups [g0, g1) of one tile for one row into int32 partial sums.
template <typename X>
void tileDot(const X *x, const uint8_t *tile, int64_t g0, int64_t g1, int32_t *s) {
  for (int64_t g = g0; g < g1; ++g) {
    const int8_t *wg = reinterpret_cast<const int8_t *>(tile) + g * 64;
    const X *xg = x + 4 * g;
    for (int c = 0; c < 16; ++c)
      s[c] += int32_t(xg[0]) * wg[4 * c] + int32_t(xg[1]) * wg[4 * c + 1] +
              int32_t(xg[2]) * wg[4 * c + 2] + int32_t(xg[3]) * wg[4 * c + 3];
  }
}

/// Portable exact dots; int32 partial sums flushed to int64 before they can
/// overflow (`chunk` groups: 4 products of |x| <= 2^(bits-1), |w| <= 127).
template <typename X, int64_t chunk>
void dotPortable(const X *x, int64_t m, int64_t ldx, const uint8_t *w, int64_t n, int64_t k,
                 int64_t t0, int64_t t1, int64_t *acc, int64_t ldacc) {
  int64_t groups = packedCols(k) / 4;
  for (int64_t r = 0; r < m; ++r)
    for (int64_t t = t0; t < t1; ++t) {
      const uint8_t *tile = w + t * groups * 64;
      int64_t *a = acc + r * ldacc + (t - t0) * 16;
      std::fill(a, a + 16, 0);
      for (int64_t g0 = 0; g0 < groups; g0 += chunk) {
        int32_t s[16] = {0};
        tileDot(x + r * ldx, tile, g0, std::min(groups, g0 + chunk), s);
        for (int c = 0; c < 16; ++c)
          a[c] += s[c];
      }
    }
}

void dotI8Portable(const int8_t *x, int64_t m, int64_t ldx, const uint8_t *w, int64_t n, int64_t k,
                   int64_t t0, int64_t t1, int64_t *acc, int64_t ldacc) {
  dotPortable<int8_t, 16384>(x, m, ldx, w, n, k, t0, t1, acc, ldacc);
}
void dotI16Portable(const int16_t *x, int64_t m, int64_t ldx, const uint8_t *w, int64_t n,
                    int64_t k, int64_t t0, int64_t t1, int64_t *acc, int64_t ldacc) {
  dotPortable<int16_t, 64>(x, m, ldx, w, n, k, t0, t1, acc, ldacc);
}

/// Per-thread scratch (accumulators, converted rows), grown on demand.
template <typename T> T *threadBuffer(size_t n, int which) {
  thread_local std::vector<T> bufs[2];
  if (bufs[which].size() < n)
    bufs[which].resize(n);
  return bufs[which].data();
}

/// Splits `tiles` over the pool: task i gets [tiles*i/n, tiles*(i+1)/n).
template <typename F> void forTiles(ThreadPool *pool, int64_t tiles, int64_t work, F f) {
  int n = pool ? pool->size() : 1;
  // Tiny problems are not worth waking the workers for.
  // Below ~256k multiply-adds a split costs more (waking the workers,
  // sharing cache lines) than it saves (measured on stories3m decode).
  if (work < (int64_t(1) << 18))
    n = 1;
  n = int(std::min<int64_t>(n, tiles));
  if (n <= 1) {
    f(int64_t(0), tiles);
    return;
  }
  pool->run(n, [&](int i) { f(tiles * i / n, tiles * (i + 1) / n); });
}

} // namespace

namespace {

void scoresPortable(const float *q, const float *k, int64_t T, int64_t d, float scale,
                    float *scores) {
  for (int64_t t = 0; t < T; ++t) {
    const float *kr = k + t * d;
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 8 <= d; i += 8)
      for (int j = 0; j < 8; ++j)
        acc[j] += q[i + j] * kr[i + j];
    float s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (; i < d; ++i)
      s += q[i] * kr[i];
    scores[t] = s * scale;
  }
}

void weightedSumPortable(const float *p, const float *v, int64_t T, int64_t d, float *acc) {
  for (int64_t t = 0; t < T; ++t)
    if (p[t] != 0.0f)
      for (int64_t j = 0; j < d; ++j)
        acc[j] += p[t] * v[t * d + j];
}

void quantizePortable(const float *x, int64_t rows, int64_t count, const float *scale,
                      const int32_t *zp, bool perChannel, int32_t lo, int32_t hi, void *q,
                      int bytes) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < count; ++c) {
      int64_t i = r * count + c, k = perChannel ? c : 0;
      int32_t v = quantizeValue(x[i], scale[k], zp[k], lo, hi);
      if (bytes == 1)
        static_cast<int8_t *>(q)[i] = int8_t(v);
      else
        static_cast<int16_t *>(q)[i] = int16_t(v);
    }
}

void dequantizePortable(const void *q, int bytes, int64_t rows, int64_t count, const float *scale,
                        const int32_t *zp, bool perChannel, float *x) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < count; ++c) {
      int64_t i = r * count + c, k = perChannel ? c : 0;
      int32_t v = bytes == 1 ? static_cast<const int8_t *>(q)[i] : static_cast<const int16_t *>(q)[i];
      x[i] = float(v - zp[k]) * scale[k];
    }
}

} // namespace

void siluMulPortable(const float *g, const float *u, float *y, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    y[i] = fm::siluMul(g[i], u[i]);
}

float expSumPortable(float *p, int64_t n, float mx) {
  const float ninf = -std::numeric_limits<float>::infinity();
  float lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) {
      float e = p[i + j] == ninf ? 0.0f : fm::exp(p[i + j] - mx);
      p[i + j] = e;
      lane[j] += e;
    }
  float s = ((lane[0] + lane[4]) + (lane[1] + lane[5])) + ((lane[2] + lane[6]) + (lane[3] + lane[7]));
  for (; i < n; ++i) {
    float e = p[i] == ninf ? 0.0f : fm::exp(p[i] - mx);
    p[i] = e;
    s += e;
  }
  return s;
}

void geluTanhPortable(const float *x, float *y, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    y[i] = fm::geluTanh(x[i]);
}

const KernelTable &portableKernels() {
  static const KernelTable t{dotI8Portable,       dotI16Portable,   nullptr,
                             scoresPortable,      weightedSumPortable, quantizePortable,
                             dequantizePortable, nullptr,          siluMulPortable,
                             geluTanhPortable};
  return t;
}

bool fastConvertQuant(bool quantize, const TensorRef &x, TensorRef &o, ThreadPool *pool) {
  const TensorRef &q = quantize ? o : x;
  const QuantInfo &qi = *q.quant;
  if ((q.dtype != DType::I8 && q.dtype != DType::I16 && q.dtype != DType::U8 &&
       q.dtype != DType::U16) ||
      q.shape.empty() || qi.blockSize > 0)
    return false;
  // Unsigned storage (u8/u16, as NPU targets keep activations) runs on the
  // signed kernels: with b = 2^(bits-1), u - z == (u - b) - (z - b) and
  // clamp(v + z, lo, hi) - b == clamp(v + (z - b), lo - b, hi - b) exactly,
  // and u - b is u with its top bit flipped.
  const bool unsignedQ = q.dtype == DType::U8 || q.dtype == DType::U16;
  bool perChannel = qi.count > 1;
  if (perChannel && qi.axis != int32_t(q.shape.size()) - 1)
    return false;
  int64_t n = q.numel(), count = perChannel ? qi.count : std::max<int64_t>(q.shape.back(), 1);
  if (n == 0)
    return true;
  int64_t k = perChannel ? qi.count : 1;
  int32_t *zp = threadBuffer<int32_t>(size_t(k), 0);
  int bytes = q.dtype == DType::I8 || q.dtype == DType::U8 ? 1 : 2;
  const int32_t bias = unsignedQ ? (bytes == 1 ? 128 : 32768) : 0;
  for (int64_t c = 0; c < k; ++c)
    zp[c] = (qi.zeroPoints ? int32_t(qi.zeroPoints[c]) : 0) - bias;
  const KernelTable &kt = kernels(activeIsa());
  int32_t lo = 0, hi = 0;
  if (quantize) {
    storageRange(q, lo, hi);
    lo -= bias;
    hi -= bias;
  }
  int64_t rows = n / count;
  // Flips the top bit of `elems` stored values (signed <-> unsigned).
  auto flip = [bytes](const uint8_t *src, uint8_t *dst, int64_t elems) {
    if (bytes == 1) {
      for (int64_t i = 0; i < elems; ++i)
        dst[i] = uint8_t(src[i] ^ 0x80u);
    } else {
      for (int64_t i = 0; i < elems; ++i) { // little-endian: the high byte is second
        dst[2 * i] = src[2 * i];
        dst[2 * i + 1] = uint8_t(src[2 * i + 1] ^ 0x80u);
      }
    }
  };
  auto run = [&](int64_t r0, int64_t r1) {
    if (quantize) {
      uint8_t *dst = static_cast<uint8_t *>(o.data) + r0 * count * bytes;
      kt.quantize(static_cast<const float *>(x.data) + r0 * count, r1 - r0, count, qi.scales, zp,
                  perChannel, lo, hi, dst, bytes);
      if (unsignedQ)
        flip(dst, dst, (r1 - r0) * count);
    } else if (unsignedQ) {
      // One row at a time through a signed copy (the input is read-only).
      uint8_t *row = threadBuffer<uint8_t>(size_t(count * bytes), 0);
      for (int64_t r = r0; r < r1; ++r) {
        flip(static_cast<const uint8_t *>(x.data) + r * count * bytes, row, count);
        kt.dequantize(row, bytes, 1, count, qi.scales, zp, perChannel,
                      static_cast<float *>(o.data) + r * count);
      }
    } else {
      kt.dequantize(static_cast<const uint8_t *>(x.data) + r0 * count * bytes, bytes, r1 - r0,
                    count, qi.scales, zp, perChannel, static_cast<float *>(o.data) + r0 * count);
    }
  };
  // Rows in parallel once there are >= 16K elements per thread.
  int64_t tasks = pool ? std::min<int64_t>({int64_t(pool->size()), rows, n / 16384}) : 1;
  if (tasks <= 1)
    run(0, rows);
  else
    pool->run(int(tasks), [&](int t) { run(rows * t / tasks, rows * (t + 1) / tasks); });
  return true;
}

bool fastAttention(const TensorRef &q, const TensorRef &k, const TensorRef &v,
                   const TensorRef *mask, float scale, bool causal, TensorRef &o,
                   ThreadPool *pool, int64_t keys, int64_t causalOffset) {
  if (q.dtype != DType::F32 || k.dtype != DType::F32 || v.dtype != DType::F32 ||
      o.dtype != DType::F32 || (mask && mask->dtype != DType::Bool && mask->dtype != DType::F32))
    return false;
  const int64_t B = q.shape[0], Hq = q.shape[1], S = q.shape[2], D = q.shape[3];
  const int64_t Hkv = k.shape[1], cap = k.shape[2], Dv = v.shape[3], group = Hq / Hkv;
  const int64_t T = keys < 0 ? cap : std::min(keys, cap);
  const int64_t offset = causalOffset < 0 ? T - S : causalOffset;
  const float *pq = static_cast<const float *>(q.data), *pk = static_cast<const float *>(k.data),
              *pv = static_cast<const float *>(v.data);
  float *po = static_cast<float *>(o.data);
  // Mask strides over [B, Hq, S, T] (0 on broadcast dims).
  int64_t ms[4] = {0, 0, 0, 0};
  if (mask) {
    int64_t st = 1;
    for (int64_t d = 3, md = int64_t(mask->shape.size()) - 1; d >= 0; --d, --md) {
      int64_t dim = md >= 0 ? mask->shape[size_t(md)] : 1;
      ms[d] = dim == 1 ? 0 : st;
      st *= dim;
    }
  }
  const KernelTable &kt = kernels(activeIsa());
  const float ninf = -std::numeric_limits<float>::infinity();
  auto head = [&](int64_t bh) {
    int64_t b = bh / Hq, h = bh % Hq, hk = h / group;
    float *scores = threadBuffer<float>(size_t(T), 0);
    float *acc = threadBuffer<float>(size_t(Dv), 1);
    const float *kb = pk + (b * Hkv + hk) * cap * D, *vb = pv + (b * Hkv + hk) * cap * Dv;
    for (int64_t i = 0; i < S; ++i) {
      const float *qr = pq + ((b * Hq + h) * S + i) * D;
      int64_t limit = causal ? std::min(T, i + offset + 1) : T;
      kt.scores(qr, kb, limit, D, scale, scores);
      float mx = ninf;
      for (int64_t t = 0; t < limit; ++t) {
        if (mask) {
          int64_t mi = b * ms[0] + h * ms[1] + i * ms[2] + t * ms[3];
          if (mask->dtype == DType::Bool)
            scores[t] = static_cast<const uint8_t *>(mask->data)[mi] ? scores[t] : ninf;
          else
            scores[t] += static_cast<const float *>(mask->data)[mi];
        }
        mx = std::max(mx, scores[t]);
      }
      std::fill(acc, acc + Dv, 0.0f);
      float sum = 0;
      if (mx != ninf) {
        // Exponentials in place (masked positions become 0), then one pass
        // over the values.
        sum = (kt.expSum ? kt.expSum : expSumPortable)(scores, limit, mx);
        kt.weightedSum(scores, vb, limit, Dv, acc);
      }
      float *orow = po + ((b * Hq + h) * S + i) * Dv;
      float inv = sum > 0 ? 1.0f / sum : 0.0f;
      for (int64_t d = 0; d < Dv; ++d)
        orow[d] = acc[d] * inv;
    }
  };
  int64_t tasks = B * Hq;
  int n = pool ? pool->size() : 1;
  if (n <= 1 || S * T * D < 4096) {
    for (int64_t bh = 0; bh < tasks; ++bh)
      head(bh);
  } else {
    pool->run(n, [&](int i) {
      for (int64_t bh = tasks * i / n; bh < tasks * (i + 1) / n; ++bh)
        head(bh);
    });
  }
  return true;
}

const KernelTable &kernels(Isa isa) {
  switch (isa) {
#ifdef MU_HAVE_X86_KERNELS
  case Isa::Avx2: return avx2Kernels();
  case Isa::Avx512Vnni: return avx512Kernels();
  case Isa::AmxInt8: return amxKernels();
#endif
#ifdef MU_HAVE_NEON_KERNELS
  case Isa::NeonDot: return neonKernels();
#endif
  default: return portableKernels();
  }
}

bool packableRowMajorWeight(const TensorRef &w) {
  return w.layout == Layout::RowMajor && w.dtype == DType::I8 && w.shape.size() == 2 &&
         w.quant && !w.quant->zeroPoints && w.quant->blockSize == 0 &&
         (w.quant->count == 1 || (w.quant->axis == 0 && w.quant->count == w.shape[0]));
}

bool fastIntegerLinear(const TensorRef &x, const TensorRef &w, const TensorRef *bias,
                       const TensorRef &y) {
  return w.layout == Layout::I8N16K4 &&
         (x.dtype == DType::I8 || x.dtype == DType::I16 || x.dtype == DType::U8 ||
          x.dtype == DType::U16) &&
         x.quant && x.quant->count == 1 && w.quant && !w.quant->zeroPoints &&
         w.quant->blockSize == 0 && (!bias || bias->dtype == DType::I32) &&
         (y.dtype == DType::F32 ||
          ((y.dtype == DType::I8 || y.dtype == DType::U8 || y.dtype == DType::I16 ||
            y.dtype == DType::U16) &&
           y.quant));
}

namespace {

/// Integer output: requantize(acc + base) per channel, as Integer.h.
template <typename Y, bool narrow>
void requantizeRow(const int64_t *acc, const LinearPlan &plan, int64_t c0, int64_t c1, Y *y,
                   int32_t lo, int32_t hi) {
  for (int64_t c = c0; c < c1; ++c) {
    int64_t v = acc[c - c0] + plan.base[size_t(c)];
    const FixedPointMultiplier &m = plan.mult[size_t(c)];
    int32_t q;
    if (narrow) {
      // |v| < 2^31: the 64-bit product is exact, so this equals the spec.
      int64_t p = (v * m.multiplier + (int64_t(1) << (m.shift - 1))) >> m.shift;
      p = std::clamp<int64_t>(p, std::numeric_limits<int32_t>::min(),
                              std::numeric_limits<int32_t>::max());
      q = int32_t(std::clamp<int64_t>(p + plan.yZero[size_t(c)], lo, hi));
    } else {
      q = requantize(v, m, plan.yZero[size_t(c)], lo, hi);
    }
    y[c] = Y(q);
  }
}

/// One row of outputs for channels [c0, c1) from their accumulators.
void epilogue(const KernelTable &kt, const int64_t *acc, const LinearPlan &plan, int64_t c0,
              int64_t c1, TensorRef &y, int64_t rowOffset, int32_t lo, int32_t hi) {
  if (y.dtype == DType::F32) {
    float *out = static_cast<float *>(y.data) + rowOffset;
    for (int64_t c = c0; c < c1; ++c)
      out[c] = float(double(acc[c - c0] + plan.base[size_t(c)]) * plan.realScale[size_t(c)]);
    return;
  }
  if (plan.narrowAcc && kt.requantize) {
    int bytes = y.dtype == DType::I8 || y.dtype == DType::U8 ? 1 : 2;
    kt.requantize(acc, plan.base.data() + c0, plan.mult.data() + c0, plan.yZero.data() + c0,
                  c1 - c0, lo, hi, static_cast<uint8_t *>(y.data) + (rowOffset + c0) * bytes, bytes);
    return;
  }
  auto run = [&](auto *out) {
    if (plan.narrowAcc)
      requantizeRow<std::remove_pointer_t<decltype(out)>, true>(acc, plan, c0, c1, out, lo, hi);
    else
      requantizeRow<std::remove_pointer_t<decltype(out)>, false>(acc, plan, c0, c1, out, lo, hi);
  };
  switch (y.dtype) {
  case DType::I8: run(static_cast<int8_t *>(y.data) + rowOffset); break;
  case DType::U8: run(static_cast<uint8_t *>(y.data) + rowOffset); break;
  case DType::U16: run(static_cast<uint16_t *>(y.data) + rowOffset); break;
  default: run(static_cast<int16_t *>(y.data) + rowOffset); break;
  }
}

} // namespace

std::string integerLinear(const TensorRef &x, const TensorRef &w, const TensorRef *bias,
                          TensorRef &y, LinearPlan &plan, ThreadPool *pool) {
  const int64_t N = w.shape[0], K = w.shape[1], M = x.numel() / std::max<int64_t>(K, 1);
  const int64_t Kp = packedCols(K), tiles = packedRows(N) / kPackTileN;
  const double xs = x.quant->scales[0];
  // Unsigned activations (u8/u16, as NPU targets store them) run on the
  // signed kernels: x - z == (x - 2^(b-1)) - (z - 2^(b-1)) exactly, so the
  // rows are shifted by flipping the top bit and the zero point follows.
  const bool unsignedX = x.dtype == DType::U8 || x.dtype == DType::U16;
  const bool i8 = x.dtype == DType::I8 || x.dtype == DType::U8;
  const int32_t xz = (x.quant->zeroPoints ? int32_t(x.quant->zeroPoints[0]) : 0) -
                     (unsignedX ? (i8 ? 128 : 32768) : 0);
  const bool intOut = y.dtype != DType::F32;
  const uint8_t *pw = static_cast<const uint8_t *>(w.data);
  if (plan.realScale.empty() && plan.mult.empty()) {
    auto wScale = [&](int64_t c) { return double(w.quant->scales[w.quant->count == 1 ? 0 : c]); };
    int64_t maxBase = 0;
    plan.base.assign(size_t(N), 0);
    for (int64_t c = 0; c < N; ++c) {
      int64_t b = bias ? loadInt(*bias, c) : 0;
      plan.base[size_t(c)] = b - int64_t(xz) * packedI8RowSum(pw, N, K, c);
      maxBase = std::max<int64_t>(maxBase, std::llabs(plan.base[size_t(c)]));
    }
    // acc + base with |acc| <= K * 2^(b-1) * 128 (the kernels' raw products)
    // and base as computed (bias and the zero-point correction, from the
    // stored row sums): below 2^31 the 64-bit requantization is exact.
    double xMax = i8 ? 128.0 : 32768.0;
    plan.narrowAcc = double(maxBase) + double(K) * xMax * 128.0 < 2147483647.0;
    if (intOut) {
      plan.mult.resize(size_t(N));
      plan.yZero.resize(size_t(N));
      for (int64_t c = 0; c < N; ++c) {
        int64_t oc = y.quant->count > 1 ? c : 0;
        plan.yZero[size_t(c)] = y.quant->zeroPoints ? int32_t(y.quant->zeroPoints[oc]) : 0;
        if (!quantizeMultiplier(xs * wScale(c) / double(y.quant->scales[oc]),
                                plan.mult[size_t(c)])) {
          plan.mult.clear();
          return "requantization multiplier of channel " + std::to_string(c) + " is out of range";
        }
      }
    } else {
      plan.realScale.resize(size_t(N));
      for (int64_t c = 0; c < N; ++c)
        plan.realScale[size_t(c)] = xs * wScale(c);
    }
  }
  int32_t ylo = 0, yhi = 0;
  if (intOut)
    storageRange(y, ylo, yhi);
  // Rows padded to Kp (zeros) when K is not a multiple of 4; unsigned rows
  // shifted to signed.
  size_t es = i8 ? 1 : 2;
  const void *xrows = x.data;
  int64_t ldx = K;
  std::vector<uint8_t> padded;
  if (Kp != K || unsignedX) {
    padded.assign(size_t(M * Kp) * es, 0);
    for (int64_t r = 0; r < M; ++r) {
      uint8_t *dst = padded.data() + size_t(r * Kp) * es;
      std::memcpy(dst, static_cast<const uint8_t *>(x.data) + size_t(r * K) * es, size_t(K) * es);
      if (unsignedX && i8)
        for (int64_t k = 0; k < K; ++k)
          dst[k] ^= 0x80;
      else if (unsignedX)
        for (int64_t k = 0; k < K; ++k) {
          uint16_t v;
          std::memcpy(&v, dst + 2 * k, 2);
          v ^= 0x8000;
          std::memcpy(dst + 2 * k, &v, 2);
        }
    }
    xrows = padded.data();
    ldx = Kp;
  }
  const KernelTable &kt = kernels(activeIsa());
  constexpr int64_t chunkTiles = 4;
  forTiles(pool, tiles, M * N * K, [&](int64_t t0, int64_t t1) {
    int64_t *acc = threadBuffer<int64_t>(size_t(M * chunkTiles * 16), 0);
    for (int64_t c0 = t0; c0 < t1; c0 += chunkTiles) {
      int64_t c1 = std::min(t1, c0 + chunkTiles), width = (c1 - c0) * 16;
      if (i8)
        kt.dotI8(static_cast<const int8_t *>(xrows), M, ldx, pw, N, K, c0, c1, acc, width);
      else
        kt.dotI16(static_cast<const int16_t *>(xrows), M, ldx, pw, N, K, c0, c1, acc, width);
      int64_t ch0 = c0 * 16, chEnd = std::min(N, c1 * 16);
      for (int64_t r = 0; r < M; ++r)
        epilogue(kt, acc + r * width, plan, ch0, chEnd, y, r * N, ylo, yhi);
    }
  });
  return "";
}

bool fastFloatLinear(const TensorRef &x, const TensorRef &w, const TensorRef *bias,
                     const TensorRef &y) {
  bool weightsOk = false;
  if (w.layout == Layout::RowMajor && w.shape.size() == 2) {
    if (!w.quant)
      weightsOk = w.dtype == DType::F32 || w.dtype == DType::F16;
    else if (w.dtype == DType::I8 && !w.quant->zeroPoints) {
      const QuantInfo &q = *w.quant;
      int64_t n = w.shape[0], k = w.shape[1];
      weightsOk = q.blockSize == 0
                      ? (q.count == 1 || (q.axis == 0 && q.count == n))
                      : (q.blockSize % 8 == 0 && k % q.blockSize == 0 &&
                         q.count == n * (k / q.blockSize));
    }
  }
  return kernels(activeIsa()).dotF32 && weightsOk && x.dtype == DType::F32 &&
         y.dtype == DType::F32 &&
         (!bias || (!bias->quant && (bias->dtype == DType::F32 || bias->dtype == DType::F16)));
}

void floatLinear(const TensorRef &x, const TensorRef &w, const TensorRef *bias, TensorRef &y,
                 ThreadPool *pool) {
  const int64_t N = w.shape[0], K = w.shape[1], M = x.numel() / std::max<int64_t>(K, 1);
  std::vector<float> b;
  if (bias) {
    b.resize(size_t(N));
    for (int64_t c = 0; c < N; ++c)
      b[size_t(c)] = bias->dtype == DType::F32
                         ? static_cast<const float *>(bias->data)[c]
                         : halfToFloat(static_cast<const uint16_t *>(bias->data)[c]);
  }
  FloatWeights fw;
  fw.data = w.data;
  fw.kind = w.dtype == DType::F32 ? FloatWeights::F32
            : w.dtype == DType::F16 ? FloatWeights::F16 : FloatWeights::I8;
  if (w.quant) {
    fw.scales = w.quant->scales;
    fw.block = w.quant->blockSize;
    fw.perRow = w.quant->count > 1;
  }
  const KernelTable &kt = kernels(activeIsa());
  // Blocks of 16 channels, as the integer kernels.
  int64_t blocks = (N + 15) / 16;
  forTiles(pool, blocks, M * N * K, [&](int64_t b0, int64_t b1) {
    kt.dotF32(static_cast<const float *>(x.data), M, K, fw, K, b0 * 16, std::min(N, b1 * 16),
              bias ? b.data() : nullptr, static_cast<float *>(y.data), N);
  });
}

} // namespace cpu
} // namespace rt
} // namespace mu
