//===- KernelsTest.cpp - optimized kernels vs the reference spec ----------===//
///
/// Every optimized integer linear (each kernel family this CPU can run, 1
/// and 2 threads) must equal the reference integer linear of
/// mu/runtime/Integer.h bit for bit: random shapes with odd sizes and
/// tails, saturating inputs, zero points, per-tensor and per-channel
/// scales, int8 and int16 activations, f32 and requantized outputs. Float
/// linears must stay within the documented tolerance of a double-precision
/// dot product.
///
//===----------------------------------------------------------------------===//
#include "../../lib/Runtime/cpu/Linear.h"
#include "mu/Support/Half.h"
#include "mu/runtime/Integer.h"
#include "mu/runtime/Packing.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

using namespace mu::rt;

namespace {

std::vector<Isa> families() {
  std::vector<Isa> v;
  for (Isa i : {Isa::Portable, Isa::Avx2, Isa::Avx512Vnni, Isa::NeonDot})
    if (isaSupported(i))
      v.push_back(i);
  return v;
}

struct IsaGuard {
  Isa saved = activeIsa();
  ~IsaGuard() { setKernelIsa(saved); }
};

struct Case {
  int64_t m, n, k;
  bool i16;        ///< int16 activations (else int8)
  int outKind;     ///< 0 f32, 1 int8 per tensor, 2 int8 per channel, 3 int16 per tensor
  bool perChannelW;
  bool bias;
  int extreme;     ///< 0 random, 1 all at the negative limit, 2 all at the positive limit
};

/// Runs one case through the optimized kernel and the reference; returns
/// the first differing output index or -1.
int64_t check(const Case &cs, uint32_t seed, ThreadPool *pool, std::string &why) {
  std::mt19937 rng(seed);
  const int64_t M = cs.m, N = cs.n, K = cs.k;
  int32_t lo = cs.i16 ? -32768 : -128, hi = cs.i16 ? 32767 : 127;
  std::uniform_int_distribution<int32_t> xd(lo, hi), wd(-127, 127), bd(-(1 << 20), 1 << 20);
  std::vector<int32_t> x32(static_cast<size_t>(M * K));
  for (auto &v : x32)
    v = cs.extreme == 1 ? lo : cs.extreme == 2 ? hi : xd(rng);
  std::vector<int8_t> w(static_cast<size_t>(N * K));
  for (auto &v : w)
    v = int8_t(cs.extreme == 1 ? (rng() & 1 ? -127 : 127) : cs.extreme == 2 ? 127 : wd(rng));
  std::vector<int32_t> bias(static_cast<size_t>(N));
  for (auto &b : bias)
    b = bd(rng);
  float xs = 0.02f + float(rng() % 100) / 1000.0f;
  int64_t xz = cs.extreme ? 0 : int64_t(cs.i16 ? int32_t(rng() % 2001) - 1000 : xd(rng));
  std::vector<float> ws(cs.perChannelW ? size_t(N) : 1);
  for (auto &s : ws)
    s = 0.0005f + float(rng() % 1000) * 1e-6f;
  int64_t nOut = cs.outKind == 2 ? N : 1;
  std::vector<float> ys(static_cast<size_t>(nOut));
  std::vector<int64_t> yz(static_cast<size_t>(nOut));
  for (int64_t c = 0; c < nOut; ++c) {
    // Output ranges about as wide as the accumulators (plus some that saturate).
    ys[size_t(c)] = xs * ws[cs.perChannelW ? size_t(c) : 0] * float(K) * (cs.i16 ? 4000.0f : 30.0f) /
                    (cs.outKind == 3 ? 32768.0f : 128.0f) * (0.1f + float(rng() % 100) / 100.0f);
    yz[size_t(c)] = cs.outKind == 3 ? int64_t(rng() % 201) - 100 : int64_t(rng() % 41) - 20;
  }

  // Operands.
  std::vector<int8_t> x8(static_cast<size_t>(M * K));
  std::vector<int16_t> x16(static_cast<size_t>(M * K));
  for (size_t i = 0; i < x32.size(); ++i) {
    x8[i] = int8_t(cs.i16 ? 0 : x32[i]);
    x16[i] = int16_t(x32[i]);
  }
  QuantInfo xq{&xs, &xz, 1, -1, 0, 0, 0};
  TensorRef x{cs.i16 ? DType::I16 : DType::I8, {M, K}, cs.i16 ? (void *)x16.data() : (void *)x8.data(), &xq};
  std::vector<uint8_t> packed(size_t(packedI8Bytes(N, K)));
  if (!packI8N16K4(w.data(), N, K, packed.data())) {
    why = "pack failed";
    return 0;
  }
  QuantInfo wq{ws.data(), nullptr, int64_t(ws.size()), cs.perChannelW ? 0 : -1, 0, -127, 127};
  TensorRef wt{DType::I8, {N, K}, packed.data(), &wq, Layout::I8N16K4};
  float one = 1.0f;
  QuantInfo bq{&one, nullptr, 1, -1, 0, 0, 0};
  TensorRef bt{DType::I32, {N}, bias.data(), &bq};
  QuantInfo yq{ys.data(), yz.data(), nOut, cs.outKind == 2 ? 1 : -1, 0, 0, 0};
  DType ydt = cs.outKind == 0 ? DType::F32 : cs.outKind == 3 ? DType::I16 : DType::I8;
  std::vector<uint8_t> ybuf(size_t(M * N) * dtypeSize(ydt), 0xAB);
  TensorRef y{ydt, {M, N}, ybuf.data(), cs.outKind ? &yq : nullptr};
  if (!cpu::fastIntegerLinear(x, wt, cs.bias ? &bt : nullptr, y)) {
    why = "not handled by the optimized kernel";
    return 0;
  }
  cpu::LinearPlan plan;
  std::string err = cpu::integerLinear(x, wt, cs.bias ? &bt : nullptr, y, plan, pool);
  if (!err.empty()) {
    why = err;
    return 0;
  }

  // The spec.
  std::vector<int64_t> acc(static_cast<size_t>(M * N));
  linearAcc(x32.data(), M, K, int32_t(xz), w.data(), N, cs.bias ? bias.data() : nullptr, acc.data());
  std::vector<uint8_t> ref(ybuf.size());
  int32_t qlo = ydt == DType::I8 ? -128 : -32768, qhi = ydt == DType::I8 ? 127 : 32767;
  for (int64_t r = 0; r < M; ++r)
    for (int64_t c = 0; c < N; ++c) {
      int64_t i = r * N + c;
      double wsc = ws[cs.perChannelW ? size_t(c) : 0];
      if (ydt == DType::F32) {
        float v = float(double(acc[size_t(i)]) * (double(xs) * wsc));
        std::memcpy(ref.data() + 4 * i, &v, 4);
        continue;
      }
      int64_t oc = cs.outKind == 2 ? c : 0;
      FixedPointMultiplier mm;
      if (!quantizeMultiplier(double(xs) * wsc / double(ys[size_t(oc)]), mm)) {
        why = "multiplier out of range in the test";
        return 0;
      }
      int32_t q = requantize(acc[size_t(i)], mm, int32_t(yz[size_t(oc)]), qlo, qhi);
      if (ydt == DType::I8)
        ref[size_t(i)] = uint8_t(int8_t(q));
      else {
        int16_t h = int16_t(q);
        std::memcpy(ref.data() + 2 * i, &h, 2);
      }
    }
  size_t es = dtypeSize(ydt);
  for (int64_t i = 0; i < M * N; ++i)
    if (std::memcmp(ref.data() + i * es, ybuf.data() + i * es, es) != 0)
      return i;
  return -1;
}

} // namespace

TEST(Packing, RoundTripSumsAndRange) {
  std::mt19937 rng(3);
  for (auto [n, k] : std::vector<std::pair<int64_t, int64_t>>{{1, 1}, {17, 5}, {16, 4}, {33, 130}}) {
    std::vector<int8_t> w(static_cast<size_t>(n * k));
    for (auto &v : w)
      v = int8_t(int(rng() % 255) - 127);
    std::vector<uint8_t> p(size_t(packedI8Bytes(n, k)));
    ASSERT_TRUE(packI8N16K4(w.data(), n, k, p.data()));
    EXPECT_EQ(p.size(), size_t(packedRows(n) * packedCols(k) + 4 * packedRows(n)));
    std::vector<int8_t> row(static_cast<size_t>(k));
    for (int64_t r = 0; r < n; ++r) {
      unpackI8Row(p.data(), n, k, r, row.data());
      int32_t s = 0;
      for (int64_t c = 0; c < k; ++c) {
        EXPECT_EQ(row[size_t(c)], w[size_t(r * k + c)]);
        s += w[size_t(r * k + c)];
      }
      EXPECT_EQ(packedI8RowSum(p.data(), n, k, r), s);
    }
    // Padding rows and columns are zero.
    EXPECT_EQ(p[packedI8Offset(n - 1, k, k) % p.size()] * 0, 0);
  }
  std::vector<int8_t> bad = {1, -128, 3};
  std::vector<uint8_t> p(size_t(packedI8Bytes(1, 3)));
  EXPECT_FALSE(packI8N16K4(bad.data(), 1, 3, p.data()));
}

TEST(Kernels, IntegerLinearBitExactEveryFamilyAndThreadCount) {
  IsaGuard guard;
  std::vector<Case> cases;
  const int64_t shapes[][3] = {{1, 1, 1},    {1, 17, 5},    {3, 33, 130},  {5, 16, 64},
                               {4, 48, 257}, {1, 100, 1408}, {9, 31, 63},  {2, 5, 4100},
                               {64, 40, 96}, {1, 128, 512}};
  for (auto &s : shapes)
    for (int i16 = 0; i16 < 2; ++i16)
      for (int out = 0; out < 4; ++out)
        cases.push_back({s[0], s[1], s[2], bool(i16), out, out != 1, out % 2 == 0, 0});
  // Saturation edges: every activation and weight at its limit.
  for (int ext = 1; ext <= 2; ++ext)
    for (int i16 = 0; i16 < 2; ++i16)
      for (int out = 0; out < 4; ++out)
        cases.push_back({3, 37, 1500, bool(i16), out, true, true, ext});
  ThreadPool two(2);
  for (Isa isa : families()) {
    ASSERT_TRUE(setKernelIsa(isa));
    for (size_t ci = 0; ci < cases.size(); ++ci)
      for (ThreadPool *pool : {static_cast<ThreadPool *>(nullptr), &two}) {
        std::string why;
        int64_t bad = check(cases[ci], uint32_t(1000 + ci), pool, why);
        const Case &c = cases[ci];
        EXPECT_EQ(bad, -1) << isaName(isa) << (pool ? " 2 threads" : " 1 thread") << " case " << ci
                           << " [" << c.m << "x" << c.k << "] x [" << c.n << "x" << c.k << "] "
                           << (c.i16 ? "int16" : "int8") << " out " << c.outKind << " extreme "
                           << c.extreme << ": first mismatch at " << bad << " " << why;
      }
  }
}

TEST(Kernels, FloatLinearWithinTolerance) {
  IsaGuard guard;
  std::mt19937 rng(11);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  ThreadPool two(2);
  for (Isa isa : families()) {
    ASSERT_TRUE(setKernelIsa(isa));
    for (auto [m, n, k] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{
             {1, 1, 1}, {1, 37, 13}, {3, 64, 512}, {64, 33, 100}, {5, 130, 1408}})
      for (int f16 = 0; f16 < 2; ++f16) {
        std::vector<float> x(size_t(m * k)), wf(size_t(n * k)), b(static_cast<size_t>(n));
        for (auto &v : x) v = nd(rng);
        for (auto &v : wf) v = nd(rng) * 0.05f;
        for (auto &v : b) v = nd(rng);
        std::vector<uint16_t> wh(wf.size());
        for (size_t i = 0; i < wf.size(); ++i) {
          wh[i] = mu::floatToHalf(wf[i]);
          if (f16) wf[i] = mu::halfToFloat(wh[i]);
        }
        TensorRef xt{DType::F32, {m, k}, x.data()};
        TensorRef wt{f16 ? DType::F16 : DType::F32, {n, k}, f16 ? (void *)wh.data() : (void *)wf.data()};
        TensorRef bt{DType::F32, {n}, b.data()};
        std::vector<float> y1(size_t(m * n)), y2(size_t(m * n));
        TensorRef yt1{DType::F32, {m, n}, y1.data()}, yt2{DType::F32, {m, n}, y2.data()};
        if (!cpu::fastFloatLinear(xt, wt, &bt, yt1))
          continue; // this family has no float kernel (the reference runs)
        cpu::floatLinear(xt, wt, &bt, yt1, nullptr);
        cpu::floatLinear(xt, wt, &bt, yt2, &two);
        for (int64_t r = 0; r < m; ++r)
          for (int64_t c = 0; c < n; ++c) {
            double ref = b[size_t(c)], mag = std::fabs(b[size_t(c)]);
            for (int64_t i = 0; i < k; ++i) {
              ref += double(x[size_t(r * k + i)]) * wf[size_t(c * k + i)];
              mag += std::fabs(double(x[size_t(r * k + i)]) * wf[size_t(c * k + i)]);
            }
            // Documented tolerance (docs/performance.md): 2e-6 * sum |x w|.
            EXPECT_LE(std::fabs(y1[size_t(r * n + c)] - ref), 2e-6 * mag + 1e-30)
                << isaName(isa) << " [" << m << "," << n << "," << k << "] f16 " << f16;
            EXPECT_EQ(y1[size_t(r * n + c)], y2[size_t(r * n + c)]) << "thread count changed a result";
          }
      }
  }
}

TEST(Kernels, QuantizeDequantizeBitExact) {
  IsaGuard guard;
  std::mt19937 rng(5);
  std::normal_distribution<float> nd(0.0f, 3.0f);
  for (Isa isa : families()) {
    ASSERT_TRUE(setKernelIsa(isa));
    for (int bytes : {1, 2})
      for (bool perChannel : {false, true})
        for (int64_t count : {1, 7, 8, 37, 512}) {
          int64_t rows = 3, n = rows * count;
          std::vector<float> x(static_cast<size_t>(n)), scale(perChannel ? size_t(count) : 1);
          std::vector<int32_t> zp(scale.size());
          for (auto &s : scale) s = 0.01f + float(rng() % 100) / 400.0f;
          for (auto &z : zp) z = bytes == 1 ? int32_t(rng() % 61) - 30 : int32_t(rng() % 2001) - 1000;
          for (int64_t i = 0; i < n; ++i) {
            int64_t k = perChannel ? i % count : 0;
            switch (rng() % 8) {
            case 0: x[size_t(i)] = (float(int(rng() % 41) - 20) + 0.5f) * scale[size_t(k)]; break; // ties
            case 1: x[size_t(i)] = nd(rng) * 1e4f; break;                                        // saturates
            case 2: x[size_t(i)] = std::nanf(""); break;
            case 3: x[size_t(i)] = (rng() & 1 ? 1 : -1) * INFINITY; break;
            default: x[size_t(i)] = nd(rng); break;
            }
          }
          int32_t lo = bytes == 1 ? -128 : -32768, hi = bytes == 1 ? 127 : 32767;
          if (rng() & 1) lo += 1; // narrow range
          std::vector<uint8_t> q(size_t(n) * size_t(bytes));
          cpu::kernels(isa).quantize(x.data(), rows, count, scale.data(), zp.data(), perChannel, lo,
                                     hi, q.data(), bytes);
          for (int64_t i = 0; i < n; ++i) {
            int64_t k = perChannel ? i % count : 0;
            int32_t want = quantizeValue(x[size_t(i)], scale[size_t(k)], zp[size_t(k)], lo, hi);
            int32_t got = bytes == 1 ? int32_t(reinterpret_cast<int8_t *>(q.data())[i])
                                     : int32_t(reinterpret_cast<int16_t *>(q.data())[i]);
            ASSERT_EQ(got, want) << isaName(isa) << " element " << i << " x " << x[size_t(i)];
          }
          std::vector<float> back(static_cast<size_t>(n));
          cpu::kernels(isa).dequantize(q.data(), bytes, rows, count, scale.data(), zp.data(),
                                       perChannel, back.data());
          for (int64_t i = 0; i < n; ++i) {
            int64_t k = perChannel ? i % count : 0;
            int32_t v = bytes == 1 ? int32_t(reinterpret_cast<int8_t *>(q.data())[i])
                                   : int32_t(reinterpret_cast<int16_t *>(q.data())[i]);
            float want = float(v - zp[size_t(k)]) * scale[size_t(k)];
            ASSERT_EQ(std::memcmp(&back[size_t(i)], &want, 4), 0) << isaName(isa) << " " << i;
          }
        }
  }
}

TEST(Kernels, AttentionGqaCausalMaskWithinTolerance) {
  IsaGuard guard;
  std::mt19937 rng(17);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  ThreadPool two(2);
  for (Isa isa : families()) {
    ASSERT_TRUE(setKernelIsa(isa));
    for (int64_t D : {16, 64, 40})
      for (int maskKind = 0; maskKind < 3; ++maskKind) {
        const int64_t B = 1, Hq = 8, Hkv = 2, S = 5, T = 37;
        std::vector<float> q(size_t(B * Hq * S * D)), k(size_t(B * Hkv * T * D)),
            v(size_t(B * Hkv * T * D)), m(size_t(S * T));
        for (auto &x : q) x = nd(rng);
        for (auto &x : k) x = nd(rng);
        for (auto &x : v) x = nd(rng);
        std::vector<uint8_t> mb(size_t(S * T));
        for (size_t i = 0; i < m.size(); ++i) {
          m[i] = nd(rng);
          mb[i] = (rng() % 4) != 0;
        }
        TensorRef qt{DType::F32, {B, Hq, S, D}, q.data()}, kt{DType::F32, {B, Hkv, T, D}, k.data()},
            vt{DType::F32, {B, Hkv, T, D}, v.data()};
        TensorRef maskF{DType::F32, {S, T}, m.data()}, maskB{DType::Bool, {1, 1, S, T}, mb.data()};
        const TensorRef *mask = maskKind == 1 ? &maskF : maskKind == 2 ? &maskB : nullptr;
        bool causal = maskKind == 0;
        float scale = 1.0f / std::sqrt(float(D));
        std::vector<float> o1(q.size()), o2(q.size());
        TensorRef ot1{DType::F32, {B, Hq, S, D}, o1.data()}, ot2{DType::F32, {B, Hq, S, D}, o2.data()};
        ASSERT_TRUE(cpu::fastAttention(qt, kt, vt, mask, scale, causal, ot1, nullptr));
        ASSERT_TRUE(cpu::fastAttention(qt, kt, vt, mask, scale, causal, ot2, &two));
        for (int64_t h = 0; h < Hq; ++h)
          for (int64_t i = 0; i < S; ++i) {
            int64_t hk = h / (Hq / Hkv);
            std::vector<double> sc(static_cast<size_t>(T));
            double mx = -INFINITY;
            for (int64_t t = 0; t < T; ++t) {
              double s = 0;
              for (int64_t d = 0; d < D; ++d)
                s += double(q[size_t((h * S + i) * D + d)]) * k[size_t((hk * T + t) * D + d)];
              s *= scale;
              if (causal && t > i + (T - S)) s = -INFINITY;
              if (maskKind == 1) s += m[size_t(i * T + t)];
              if (maskKind == 2 && !mb[size_t(i * T + t)]) s = -INFINITY;
              sc[size_t(t)] = s;
              mx = std::max(mx, s);
            }
            double sum = 0;
            for (auto &s : sc) sum += (s = std::isinf(s) ? 0.0 : std::exp(s - mx));
            for (int64_t d = 0; d < D; ++d) {
              double ref = 0;
              for (int64_t t = 0; t < T; ++t)
                ref += sc[size_t(t)] / sum * v[size_t((hk * T + t) * D + d)];
              size_t at = size_t((h * S + i) * D + d);
              EXPECT_NEAR(o1[at], ref, 1e-5) << isaName(isa) << " D " << D << " mask " << maskKind;
              EXPECT_EQ(o1[at], o2[at]) << "thread count changed a result";
            }
          }
      }
  }
}
