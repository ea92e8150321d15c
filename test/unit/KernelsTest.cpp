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
#include "../../lib/Runtime/Kernels.h"
#include "../../lib/Runtime/cpu/Linear.h"
#include "mu/Support/Half.h"
#include "mu/runtime/Integer.h"
#include "mu/runtime/Packing.h"
#include "mu/runtime/SelfTest.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

using namespace mu::rt;

namespace {

std::vector<Isa> families() {
  std::vector<Isa> v;
  for (Isa i : kAllIsas)
    if (isaSupported(i))
      v.push_back(i);
  return v;
}

struct IsaGuard {
  Isa saved = activeIsa();
  ~IsaGuard() { setKernelIsa(saved); }
};

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

TEST(Kernels, IntegerKernelsBitExactEveryFamilyAndThreadCount) {
  // The checks themselves live in the runtime (lib/Runtime/cpu/SelfTest.cpp)
  // so `mu-run --check-kernels` can run them on a device.
  for (Isa isa : families())
    for (int threads : {1, 2}) {
      int cases = 0;
      Status s = checkKernels(isa, threads, cases);
      EXPECT_TRUE(s.ok) << s.message;
      EXPECT_GT(cases, 90) << isaName(isa);
    }
}

TEST(Kernels, FloatLinearWithinTolerance) {
  IsaGuard guard;
  std::mt19937 rng(11);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  ThreadPool two(2);
  // Weights: 0 f32, 1 f16, 2 int8 per row, 3 int8 per tensor, 4 int8 per
  // block of 32 inputs (weight-only quantization).
  for (Isa isa : families()) {
    ASSERT_TRUE(setKernelIsa(isa));
    for (auto [m, n, k] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{
             {1, 1, 1}, {1, 37, 13}, {3, 64, 512}, {64, 33, 100}, {5, 130, 1408}})
      for (int kind = 0; kind < 5; ++kind) {
        if (kind == 4 && k % 32)
          continue;
        std::vector<float> x(size_t(m * k)), wf(size_t(n * k)), b(static_cast<size_t>(n));
        for (auto &v : x) v = nd(rng);
        for (auto &v : wf) v = nd(rng) * 0.05f;
        for (auto &v : b) v = nd(rng);
        std::vector<uint16_t> wh(wf.size());
        std::vector<int8_t> wq(wf.size());
        int64_t nb = kind == 4 ? k / 32 : 1;
        std::vector<float> scales(kind == 2 ? size_t(n) : kind == 4 ? size_t(n * nb) : 1);
        for (auto &sc : scales) sc = 0.0005f + float(rng() % 100) * 1e-5f;
        for (size_t i = 0; i < wf.size(); ++i) {
          wh[i] = mu::floatToHalf(wf[i]);
          if (kind == 1) wf[i] = mu::halfToFloat(wh[i]);
          if (kind >= 2) {
            int64_t c = int64_t(i) / k, j = int64_t(i) % k;
            float sc = kind == 2 ? scales[size_t(c)] : kind == 3 ? scales[0] : scales[size_t(c * nb + j / 32)];
            wq[i] = int8_t(int(rng() % 255) - 127);
            wf[i] = float(wq[i]) * sc; // the dequantized weight
          }
        }
        QuantInfo wqi{scales.data(), nullptr, int64_t(scales.size()), kind == 2 || kind == 4 ? 0 : -1,
                      kind == 4 ? 32 : 0, -127, 127};
        TensorRef xt{DType::F32, {m, k}, x.data()};
        TensorRef wt{kind == 1 ? DType::F16 : kind >= 2 ? DType::I8 : DType::F32, {n, k},
                     kind == 1 ? (void *)wh.data() : kind >= 2 ? (void *)wq.data() : (void *)wf.data(),
                     kind >= 2 ? &wqi : nullptr};
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
                << isaName(isa) << " [" << m << "," << n << "," << k << "] weights " << kind;
            EXPECT_EQ(y1[size_t(r * n + c)], y2[size_t(r * n + c)]) << "thread count changed a result";
          }
      }
  }
}

// An in-place cache (mu-static-shapes): keys/values live in the first rows
// of a larger buffer; rows past `keys` (NaN here) are never read, and the
// result is the same bits as over a tight buffer.
TEST(Kernels, AttentionInPlaceCacheReadsOnlyValidRows) {
  IsaGuard guard;
  std::mt19937 rng(23);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  for (Isa isa : families()) {
    ASSERT_TRUE(setKernelIsa(isa));
    const int64_t B = 1, Hq = 6, Hkv = 3, S = 4, T = 21, M = 32, D = 16;
    std::vector<float> q(size_t(B * Hq * S * D)), k(size_t(B * Hkv * T * D)), v(k.size());
    for (auto &x : q) x = nd(rng);
    for (auto &x : k) x = nd(rng);
    for (auto &x : v) x = nd(rng);
    std::vector<float> kc(size_t(B * Hkv * M * D), NAN), vc(kc.size(), NAN);
    for (int64_t h = 0; h < Hkv; ++h)
      for (int64_t t = 0; t < T; ++t)
        for (int64_t d = 0; d < D; ++d) {
          kc[size_t((h * M + t) * D + d)] = k[size_t((h * T + t) * D + d)];
          vc[size_t((h * M + t) * D + d)] = v[size_t((h * T + t) * D + d)];
        }
    TensorRef qt{DType::F32, {B, Hq, S, D}, q.data()};
    TensorRef kt{DType::F32, {B, Hkv, T, D}, k.data()}, vt{DType::F32, {B, Hkv, T, D}, v.data()};
    TensorRef kct{DType::F32, {B, Hkv, M, D}, kc.data()}, vct{DType::F32, {B, Hkv, M, D}, vc.data()};
    for (bool causal : {true, false}) {
      std::vector<float> o1(q.size()), o2(q.size());
      TensorRef ot1{DType::F32, {B, Hq, S, D}, o1.data()}, ot2{DType::F32, {B, Hq, S, D}, o2.data()};
      ASSERT_TRUE(cpu::fastAttention(qt, kt, vt, nullptr, 0.25f, causal, ot1, nullptr));
      ASSERT_TRUE(cpu::fastAttention(qt, kct, vct, nullptr, 0.25f, causal, ot2, nullptr, T, T - S));
      for (size_t i = 0; i < o1.size(); ++i)
        ASSERT_EQ(o1[i], o2[i]) << isaName(isa) << " causal " << causal << " at " << i;
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

namespace {

/// Runs a Round instruction (ints [code]) over `x` through the reference kernel.
std::vector<float> roundThrough(int64_t code, const std::vector<float> &x) {
  flatbuffers::FlatBufferBuilder fb;
  std::vector<int32_t> in{0}, out{1};
  std::vector<int64_t> ints{code};
  fb.Finish(mu::mub::CreateInstr(fb, mu::mub::OpCode::Round, fb.CreateVector(in),
                                 fb.CreateVector(out), fb.CreateVector(ints)));
  const mu::mub::Instr *instr = flatbuffers::GetRoot<mu::mub::Instr>(fb.GetBufferPointer());
  std::vector<float> xs = x, y(x.size(), -1.0f);
  TensorRef xt{DType::F32, {int64_t(x.size())}, xs.data()};
  TensorRef yt{DType::F32, {int64_t(x.size())}, y.data()};
  Scratch scratch;
  EXPECT_TRUE(checkOperands(*instr, {&xt}, {&yt}).ok);
  EXPECT_TRUE(execute(*instr, {&xt}, {&yt}, scratch).ok);
  return y;
}

} // namespace

// The emulation of a target's float precision: round to nearest even
// through FP16 (code 1) or BF16 (code 2); overflow to infinity, NaN kept.
TEST(Kernels, RoundThroughFp16AndBf16) {
  float third = 1.0f / 3.0f;
  // FP16's ulp at 1 is 2^-10 = 4/4096.
  std::vector<float> f16 = roundThrough(
      1, {1.0f, 1.0f + 2.0f / 4096, 1.0f + 3.0f / 4096, third, 70000.0f, -0.0f, 1.0f + 6.0f / 4096});
  EXPECT_EQ(f16[0], 1.0f);
  EXPECT_EQ(f16[1], 1.0f);                   // a tie (half an ulp): to even
  EXPECT_EQ(f16[2], 1.0f + 1.0f / 1024);     // above the tie: up
  EXPECT_EQ(f16[6], 1.0f + 2.0f / 1024);     // a tie above an odd significand: up to even
  EXPECT_EQ(f16[3], mu::halfToFloat(mu::floatToHalf(third)));
  EXPECT_NE(f16[3], third);
  EXPECT_TRUE(std::isinf(f16[4]));           // beyond FP16's 65504
  EXPECT_TRUE(std::signbit(f16[5]));
  std::vector<float> bf =
      roundThrough(2, {1.0f + 1.0f / 256, 1.0f + 3.0f / 256, 70000.0f, std::nanf("")});
  EXPECT_EQ(bf[0], 1.0f);                    // tie to even (8-bit significand)
  EXPECT_EQ(bf[1], 1.0f + 4.0f / 256);
  EXPECT_EQ(bf[2], 70144.0f);                // BF16 keeps FP32's range
  EXPECT_TRUE(std::isnan(bf[3]));
}

/// SwiGLU's silu(g) * u: every family gives the portable kernel's bits
/// (cpu/FastMath.h), within a few ulp of the double-precision formula
/// (clamped ends, zeros, infinities, odd lengths included).
TEST(Kernels, SiluMulSameBitsEveryFamily) {
  std::mt19937 rng(5);
  std::normal_distribution<float> nd(0.0f, 4.0f);
  std::vector<float> g, u;
  for (float v : {0.0f, -0.0f, 1e-30f, -1e-30f, 87.0f, 88.5f, 100.0f, -87.0f, -88.5f, -100.0f,
                  -1e30f, 1e30f, INFINITY, -INFINITY}) {
    g.push_back(v);
    u.push_back(1.0f);
  }
  for (int i = 0; i < 1001; ++i) {
    g.push_back(nd(rng));
    u.push_back(nd(rng));
  }
  int64_t n = int64_t(g.size());
  std::vector<float> ref(g.size()), got(g.size());
  cpu::siluMulPortable(g.data(), u.data(), ref.data(), n);
  for (size_t i = 0; i < g.size(); ++i) {
    if (std::fabs(g[i]) > 1e20f) // beyond the clamp: only the same bits everywhere
      continue;
    double want = double(g[i]) / (1.0 + std::exp(-double(g[i]))) * double(u[i]);
    EXPECT_NEAR(ref[i], want, 4e-7 * std::fabs(want) + 1e-35) << "g " << g[i] << " u " << u[i];
  }
  for (Isa isa : families()) {
    cpu::SiluMulFn f = cpu::kernels(isa).siluMul;
    ASSERT_NE(f, nullptr) << isaName(isa);
    for (int64_t len : {n, n - 1, int64_t(7), int64_t(1)}) {
      std::fill(got.begin(), got.end(), -7.0f);
      f(g.data(), u.data(), got.data(), len);
      for (int64_t i = 0; i < len; ++i)
        EXPECT_EQ(std::memcmp(&got[size_t(i)], &ref[size_t(i)], 4), 0)
            << isaName(isa) << " g " << g[size_t(i)] << ": " << got[size_t(i)] << " vs " << ref[size_t(i)];
      if (len < n)
        if (len < n)
        EXPECT_EQ(got[size_t(len)], -7.0f) << isaName(isa) << " wrote past n";
    }
  }
}

/// GELU (tanh form): the same bits in every family, within f32 rounding of
/// the double formula.
TEST(Kernels, GeluTanhSameBitsEveryFamily) {
  std::mt19937 rng(6);
  std::normal_distribution<float> nd(0.0f, 3.0f);
  std::vector<float> x = {0.0f, -0.0f, 1e-30f, -1e-30f, 5.0f, -5.0f, 12.0f, -12.0f, 40.0f, -40.0f,
                          1e30f, -1e30f, INFINITY};
  for (int i = 0; i < 1001; ++i)
    x.push_back(nd(rng));
  int64_t n = int64_t(x.size());
  std::vector<float> ref(x.size()), got(x.size());
  cpu::geluTanhPortable(x.data(), ref.data(), n);
  for (size_t i = 0; i < x.size(); ++i) {
    if (std::fabs(x[i]) > 1e20f)
      continue;
    double v = x[i];
    // The same function as v / (1 + exp(-z)) (no cancellation in the
    // tail); f32 rounding of z costs |z| ulp of exp.
    double z = 1.5957691216057308 * (v + 0.044715 * v * v * v);
    double want = v / (1.0 + std::exp(-z));
    EXPECT_NEAR(ref[i], want, 4e-7 * (1.0 + std::fabs(z)) * std::fabs(want) + 1e-35) << "x " << x[i];
  }
  for (Isa isa : families()) {
    cpu::GeluTanhFn f = cpu::kernels(isa).geluTanh;
    ASSERT_NE(f, nullptr) << isaName(isa);
    for (int64_t len : {n, n - 1, int64_t(5)}) {
      std::fill(got.begin(), got.end(), -7.0f);
      f(x.data(), got.data(), len);
      for (int64_t i = 0; i < len; ++i)
        EXPECT_EQ(std::memcmp(&got[size_t(i)], &ref[size_t(i)], 4), 0)
            << isaName(isa) << " x " << x[size_t(i)] << ": " << got[size_t(i)] << " vs " << ref[size_t(i)];
      if (len < n)
        EXPECT_EQ(got[size_t(len)], -7.0f) << isaName(isa) << " wrote past n";
    }
  }
}

/// Quantize/Dequantize into u8/u16 (NPU targets' activations) through the
/// signed kernels with the top bit flipped: the same values as the spec
/// (quantizeValue, float(u - z) * s) in every family, with and without
/// threads, per tensor and per channel, ties, saturation, NaN and Inf.
TEST(Kernels, UnsignedQuantizeMatchesSpecEveryFamily) {
  IsaGuard guard;
  std::mt19937 rng(11);
  std::normal_distribution<float> nd(0.0f, 3.0f);
  ThreadPool pool(2);
  for (Isa isa : families()) {
    ASSERT_TRUE(setKernelIsa(isa));
    for (DType dt : {DType::U8, DType::U16})
      for (bool perChannel : {false, true})
        for (int64_t count : {int64_t(1), int64_t(13), int64_t(64), int64_t(4099)}) {
          int64_t rows = count > 1000 ? 9 : 5, n = rows * count;
          int bits = dt == DType::U8 ? 8 : 16;
          int32_t qmax = (1 << bits) - 1;
          std::vector<float> scale(perChannel ? size_t(count) : 1);
          std::vector<int64_t> zp(scale.size());
          for (size_t c = 0; c < scale.size(); ++c) {
            scale[c] = 0.01f + float(rng() % 100) / 400.0f;
            zp[c] = int64_t(rng() % uint32_t(qmax + 1));
          }
          QuantInfo qi;
          qi.scales = scale.data();
          qi.zeroPoints = zp.data();
          qi.count = int64_t(scale.size());
          qi.axis = perChannel ? 1 : -1;
          std::vector<float> x(static_cast<size_t>(n));
          for (int64_t i = 0; i < n; ++i) {
            size_t k = perChannel ? size_t(i % count) : 0;
            switch (rng() % 8) {
            case 0: x[size_t(i)] = (float(int(rng() % 41) - 20) + 0.5f) * scale[k]; break;
            case 1: x[size_t(i)] = nd(rng) * 1e5f; break;
            case 2: x[size_t(i)] = std::nanf(""); break;
            case 3: x[size_t(i)] = (rng() & 1 ? 1 : -1) * INFINITY; break;
            default: x[size_t(i)] = nd(rng) * float(1 << (bits - 4)) * scale[k]; break;
            }
          }
          for (ThreadPool *p : {static_cast<ThreadPool *>(nullptr), &pool}) {
            std::vector<uint8_t> q(size_t(n) * size_t(bits / 8), 0xAB);
            TensorRef xt{DType::F32, {rows, count}, x.data()};
            TensorRef qt{dt, {rows, count}, q.data(), &qi};
            ASSERT_TRUE(cpu::fastConvertQuant(true, xt, qt, p));
            for (int64_t i = 0; i < n; ++i) {
              size_t k = perChannel ? size_t(i % count) : 0;
              int32_t want = quantizeValue(x[size_t(i)], scale[k], int32_t(zp[k]), 0, qmax);
              int32_t got = bits == 8 ? int32_t(q[size_t(i)])
                                      : int32_t(uint16_t(q[size_t(2 * i)] | (q[size_t(2 * i + 1)] << 8)));
              ASSERT_EQ(got, want) << isaName(isa) << " bits " << bits << " element " << i
                                   << " x " << x[size_t(i)];
            }
            std::vector<float> back(size_t(n), -7.0f);
            TensorRef bt{DType::F32, {rows, count}, back.data()};
            ASSERT_TRUE(cpu::fastConvertQuant(false, qt, bt, p));
            for (int64_t i = 0; i < n; ++i) {
              size_t k = perChannel ? size_t(i % count) : 0;
              int32_t u = bits == 8 ? int32_t(q[size_t(i)])
                                    : int32_t(uint16_t(q[size_t(2 * i)] | (q[size_t(2 * i + 1)] << 8)));
              float want = float(u - int32_t(zp[k])) * scale[k];
              ASSERT_EQ(std::memcmp(&back[size_t(i)], &want, 4), 0)
                  << isaName(isa) << " bits " << bits << " dequantize element " << i;
            }
          }
        }
  }
}

/// Round through FP16 in the kernel table (F16C): the reference's bits for
/// random bit patterns (NaNs with payloads, infinities, subnormals, values
/// at the overflow edge, ties), odd lengths included.
TEST(Kernels, RoundF16SameBitsEveryFamily) {
  std::mt19937 rng(3);
  std::vector<float> x;
  for (uint32_t b : {0x7fc00001u, 0xffc12345u, 0x7f800001u, 0x7f800000u, 0xff800000u, 0x477fefffu,
                     0x477ff000u, 0x38800000u, 0x387fffffu, 0x33000000u, 0x33000001u, 0x00000001u,
                     0x80000000u, 0x3f801000u, 0x3f803000u}) {
    float f;
    std::memcpy(&f, &b, 4);
    x.push_back(f);
  }
  for (int i = 0; i < 20000; ++i) {
    uint32_t b = rng();
    if (i % 2) // half of them in FP16's range
      b = (b & 0x80ffffffu) | ((0x60u + (b >> 24) % 0x20u) << 23);
    float f;
    std::memcpy(&f, &b, 4);
    x.push_back(f);
  }
  std::vector<float> ref(x.size()), got(x.size());
  for (size_t i = 0; i < x.size(); ++i)
    ref[i] = mu::halfToFloat(mu::floatToHalf(x[i]));
  for (Isa isa : families()) {
    cpu::RoundF16Fn f = cpu::kernels(isa).roundF16;
    if (!f)
      continue; // the reference loop itself
    for (int64_t len : {int64_t(x.size()), int64_t(x.size()) - 3, int64_t(5)}) {
      std::fill(got.begin(), got.end(), -7.0f);
      f(x.data(), got.data(), len);
      for (int64_t i = 0; i < len; ++i)
        ASSERT_EQ(std::memcmp(&got[size_t(i)], &ref[size_t(i)], 4), 0)
            << isaName(isa) << " element " << i << " x " << x[size_t(i)];
      if (len < int64_t(x.size()))
        EXPECT_EQ(got[size_t(len)], -7.0f) << isaName(isa) << " wrote past n";
    }
  }
}

/// The softmax numerator and its sum: every family gives the portable
/// kernel's bits, within f32 rounding of exp in double; masked (-inf)
/// scores become exactly 0.
TEST(Kernels, ExpSumSameBitsEveryFamily) {
  std::mt19937 rng(9);
  std::normal_distribution<float> nd(0.0f, 6.0f);
  for (int64_t n : {int64_t(1), int64_t(7), int64_t(8), int64_t(64), int64_t(1027)}) {
    std::vector<float> x(static_cast<size_t>(n));
    float mx = -INFINITY;
    for (auto &v : x) {
      v = rng() % 7 == 0 ? -INFINITY : nd(rng);
      mx = std::max(mx, v);
    }
    if (mx == -INFINITY)
      x[0] = mx = 0.0f;
    std::vector<float> ref = x;
    float refSum = cpu::expSumPortable(ref.data(), n, mx);
    double want = 0;
    for (int64_t i = 0; i < n; ++i) {
      double e = x[size_t(i)] == -INFINITY ? 0.0 : std::exp(double(x[size_t(i)]) - mx);
      if (x[size_t(i)] == -INFINITY)
        EXPECT_EQ(ref[size_t(i)], 0.0f);
      else if (e > 1e-30) // f32 x - mx rounds by up to 2^-24 |x - mx|; exp adds a few ulp
        EXPECT_NEAR(ref[size_t(i)], e, (4e-7 + 6e-8 * std::fabs(double(x[size_t(i)]) - mx)) * e)
            << "element " << i;
      want += e;
    }
    EXPECT_NEAR(refSum, want, 1e-6 * want);
    for (Isa isa : families()) {
      cpu::ExpSumFn f = cpu::kernels(isa).expSum;
      if (!f)
        continue;
      std::vector<float> got = x;
      float sum = f(got.data(), n, mx);
      EXPECT_EQ(std::memcmp(&sum, &refSum, 4), 0) << isaName(isa) << " n " << n;
      EXPECT_EQ(std::memcmp(got.data(), ref.data(), size_t(n) * 4), 0) << isaName(isa) << " n " << n;
    }
  }
}
