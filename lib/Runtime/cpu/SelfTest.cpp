//===- SelfTest.cpp - the optimized kernels checked against the spec ------===//
///
/// \file
/// Runs every optimized integer kernel of one family against the reference
/// integer arithmetic of mu/runtime/Integer.h on random and extreme cases
/// and requires bit-identical results: integer linear (odd shapes and tails,
/// limit values, zero points, per-tensor / per-channel scales, int8/int16
/// activations, f32 / int8 / int16 outputs) and quantize / dequantize (ties,
/// NaN, infinities, narrow ranges). Library mu_runtime_check, used by the
/// unit tests and by `mu-run --check-kernels` on a target device.
///
//===----------------------------------------------------------------------===//
#include "Linear.h"

#include "mu/runtime/Integer.h"
#include "mu/runtime/Packing.h"
#include "mu/runtime/SelfTest.h"

#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace mu {
namespace rt {

namespace {

struct Case {
  int64_t m, n, k;
  bool i16;    ///< int16 activations (else int8)
  int outKind; ///< 0 f32, 1 int8 per tensor, 2 int8 per channel, 3 int16 per tensor
  bool perChannelW;
  bool bias;
  int extreme; ///< 0 random, 1 all at the negative limit, 2 all at the positive limit
  bool unsignedIo = false; ///< u8/u16 activations and integer outputs (NPU encodings)
};

/// Runs one case through the optimized kernel and the reference; returns
/// the first differing output index or -1.
int64_t checkCase(const Case &cs, uint32_t seed, ThreadPool *pool, std::string &why) {
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
    ys[size_t(c)] = xs * ws[cs.perChannelW ? size_t(c) : 0] * float(K) *
                    (cs.i16 ? 4000.0f : 30.0f) / (cs.outKind == 3 ? 32768.0f : 128.0f) *
                    (0.1f + float(rng() % 100) / 100.0f);
    yz[size_t(c)] = cs.outKind == 3 ? int64_t(rng() % 201) - 100 : int64_t(rng() % 41) - 20;
  }

  // Operands.
  std::vector<int8_t> x8(static_cast<size_t>(M * K));
  std::vector<int16_t> x16(static_cast<size_t>(M * K));
  for (size_t i = 0; i < x32.size(); ++i) {
    x8[i] = int8_t(cs.i16 ? 0 : x32[i]);
    x16[i] = int16_t(x32[i]);
  }
  // Unsigned storage: the same values shifted by 2^(b-1), zero points too.
  const int32_t off = cs.unsignedIo ? (cs.i16 ? 32768 : 128) : 0;
  std::vector<uint8_t> xu8(x8.size());
  std::vector<uint16_t> xu16(x16.size());
  for (size_t i = 0; i < x32.size(); ++i) {
    xu8[i] = uint8_t(cs.i16 ? 0 : x32[i] + off);
    xu16[i] = uint16_t(x32[i] + off);
  }
  int64_t xzStored = xz + off;
  QuantInfo xq{&xs, &xzStored, 1, -1, 0, 0, 0};
  TensorRef x{cs.unsignedIo ? (cs.i16 ? DType::U16 : DType::U8) : cs.i16 ? DType::I16 : DType::I8,
              {M, K},
              cs.unsignedIo ? (cs.i16 ? (void *)xu16.data() : (void *)xu8.data())
                            : (cs.i16 ? (void *)x16.data() : (void *)x8.data()),
              &xq};
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
  const int32_t yoff = cs.unsignedIo ? (cs.outKind == 3 ? 32768 : 128) : 0;
  for (auto &z : yz)
    z += yoff;
  QuantInfo yq{ys.data(), yz.data(), nOut, cs.outKind == 2 ? 1 : -1, 0, 0, 0};
  DType ydt = cs.outKind == 0   ? DType::F32
              : cs.outKind == 3 ? (cs.unsignedIo ? DType::U16 : DType::I16)
                                : (cs.unsignedIo ? DType::U8 : DType::I8);
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
  linearAcc(x32.data(), M, K, int32_t(xz), w.data(), N, cs.bias ? bias.data() : nullptr,
            acc.data());
  std::vector<uint8_t> ref(ybuf.size());
  int32_t qlo = ydt == DType::I8 ? -128 : ydt == DType::I16 ? -32768 : 0;
  int32_t qhi = ydt == DType::I8 ? 127 : ydt == DType::I16 ? 32767 : ydt == DType::U8 ? 255 : 65535;
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
      if (ydt == DType::I8 || ydt == DType::U8)
        ref[size_t(i)] = uint8_t(q);
      else {
        uint16_t h = uint16_t(q);
        std::memcpy(ref.data() + 2 * i, &h, 2);
      }
    }
  size_t es = dtypeSize(ydt);
  for (int64_t i = 0; i < M * N; ++i)
    if (std::memcmp(ref.data() + i * es, ybuf.data() + i * es, es) != 0)
      return i;
  return -1;
}

/// Quantize/dequantize of one configuration; returns a message or "".
std::string checkQuant(Isa isa, std::mt19937 &rng, int bytes, bool perChannel, int64_t count) {
  std::normal_distribution<float> nd(0.0f, 3.0f);
  int64_t rows = 3, n = rows * count;
  std::vector<float> x(static_cast<size_t>(n)), scale(perChannel ? size_t(count) : 1);
  std::vector<int32_t> zp(scale.size());
  for (auto &s : scale)
    s = 0.01f + float(rng() % 100) / 400.0f;
  for (auto &z : zp)
    z = bytes == 1 ? int32_t(rng() % 61) - 30 : int32_t(rng() % 2001) - 1000;
  for (int64_t i = 0; i < n; ++i) {
    int64_t k = perChannel ? i % count : 0;
    switch (rng() % 8) {
    case 0: x[size_t(i)] = (float(int(rng() % 41) - 20) + 0.5f) * scale[size_t(k)]; break; // ties
    case 1: x[size_t(i)] = nd(rng) * 1e4f; break; // saturates
    case 2: x[size_t(i)] = std::nanf(""); break;
    case 3: x[size_t(i)] = (rng() & 1 ? 1 : -1) * INFINITY; break;
    default: x[size_t(i)] = nd(rng); break;
    }
  }
  int32_t lo = bytes == 1 ? -128 : -32768, hi = bytes == 1 ? 127 : 32767;
  if (rng() & 1)
    lo += 1; // narrow range
  std::vector<uint8_t> q(size_t(n) * size_t(bytes));
  cpu::kernels(isa).quantize(x.data(), rows, count, scale.data(), zp.data(), perChannel, lo, hi,
                             q.data(), bytes);
  for (int64_t i = 0; i < n; ++i) {
    int64_t k = perChannel ? i % count : 0;
    int32_t want = quantizeValue(x[size_t(i)], scale[size_t(k)], zp[size_t(k)], lo, hi);
    int32_t got = bytes == 1 ? int32_t(reinterpret_cast<int8_t *>(q.data())[i])
                             : int32_t(reinterpret_cast<int16_t *>(q.data())[i]);
    if (got != want)
      return "quantize element " + std::to_string(i) + ": " + std::to_string(got) +
             " != " + std::to_string(want);
  }
  std::vector<float> back(static_cast<size_t>(n));
  cpu::kernels(isa).dequantize(q.data(), bytes, rows, count, scale.data(), zp.data(), perChannel,
                               back.data());
  for (int64_t i = 0; i < n; ++i) {
    int64_t k = perChannel ? i % count : 0;
    int32_t v = bytes == 1 ? int32_t(reinterpret_cast<int8_t *>(q.data())[i])
                           : int32_t(reinterpret_cast<int16_t *>(q.data())[i]);
    float want = float(v - zp[size_t(k)]) * scale[size_t(k)];
    if (std::memcmp(&back[size_t(i)], &want, 4) != 0)
      return "dequantize element " + std::to_string(i);
  }
  return "";
}

} // namespace

Status checkKernels(Isa isa, int threads, int &cases) {
  cases = 0;
  if (!isaSupported(isa))
    return Status::error(std::string(isaName(isa)) + ": not supported by this CPU or build");
  Isa saved = activeIsa();
  setKernelIsa(isa);
  std::unique_ptr<ThreadPool> pool(threads > 1 ? new ThreadPool(threads) : nullptr);
  std::vector<Case> list;
  const int64_t shapes[][3] = {{1, 1, 1},    {1, 17, 5},     {3, 33, 130}, {5, 16, 64},
                               {4, 48, 257}, {1, 100, 1408}, {9, 31, 63},  {2, 5, 4100},
                               {64, 40, 96}, {1, 128, 512},
                               // AMX tiles: 16-row blocks, K in 64s, row tails
                               {48, 40, 128}, {37, 33, 192}, {16, 16, 64}};
  for (auto &s : shapes)
    for (int i16 = 0; i16 < 2; ++i16)
      for (int out = 0; out < 4; ++out)
        list.push_back({s[0], s[1], s[2], bool(i16), out, out != 1, out % 2 == 0, 0});
  // Saturation edges: every activation and weight at its limit.
  for (int ext = 1; ext <= 2; ++ext)
    for (int i16 = 0; i16 < 2; ++i16)
      for (int out = 0; out < 4; ++out)
        for (int64_t m : {3, 19})
          list.push_back({m, 37, m == 3 ? 1500 : 1536, bool(i16), out, true, true, ext});
  // Unsigned (u8/u16) activations and outputs, as NPU targets encode them.
  for (int i16 = 0; i16 < 2; ++i16)
    for (int out = 0; out < 4; ++out) {
      list.push_back({4, 48, 257, bool(i16), out, out != 1, true, 0, true});
      list.push_back({17, 48, 256, bool(i16), out, out != 1, true, 0, true});
      list.push_back({3, 37, 1500, bool(i16), out, true, false, 1 + out % 2, true});
    }
  Status result = Status::success();
  for (size_t ci = 0; ci < list.size() && result.ok; ++ci) {
    std::string why;
    const Case &c = list[ci];
    int64_t bad = checkCase(c, uint32_t(1000 + ci), pool.get(), why);
    ++cases;
    if (bad != -1)
      result = Status::error(std::string(isaName(isa)) + " integer linear case " +
                             std::to_string(ci) + " [" + std::to_string(c.m) + "x" +
                             std::to_string(c.k) + "] x [" + std::to_string(c.n) + "x" +
                             std::to_string(c.k) + "] " + (c.i16 ? "int16" : "int8") + " output " +
                             std::to_string(c.outKind) + ": first mismatch at " +
                             std::to_string(bad) + (why.empty() ? "" : " (" + why + ")"));
  }
  std::mt19937 rng(5);
  for (int bytes : {1, 2})
    for (bool perChannel : {false, true})
      for (int64_t count : {1, 7, 8, 37, 512}) {
        if (!result.ok)
          break;
        ++cases;
        std::string why = checkQuant(isa, rng, bytes, perChannel, count);
        if (!why.empty())
          result = Status::error(std::string(isaName(isa)) + " " + why);
      }
  setKernelIsa(saved);
  return result;
}

} // namespace rt
} // namespace mu
