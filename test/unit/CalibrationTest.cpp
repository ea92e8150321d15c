//===- CalibrationTest.cpp - statistics, range methods, GPTQ ---------------===//
#include "mu/Quant/Calibration.h"
#include "mu/Quant/Quantize.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

using namespace mu::quant;

TEST(Calibration, HistogramGrowsWithoutLosingCounts) {
  TensorStats s;
  std::vector<float> a = {0.5f, -0.25f, 1.0f, 0.0f};
  s.observe(a.data(), 4, 4);
  double w0 = s.binWidth;
  std::vector<float> b = {10.0f, -3.0f}; // 10x the first range: bins merge
  s.observe(b.data(), 2, 2);
  EXPECT_GE(s.binWidth, 8 * w0);
  uint64_t total = 0;
  for (int i = 0; i < TensorStats::kBins; ++i)
    total += s.pos[i] + s.neg[i];
  EXPECT_EQ(total, 6u);
  EXPECT_EQ(s.min, -3.0);
  EXPECT_EQ(s.max, 10.0);
  EXPECT_EQ(s.batches, 2u);
  // Moving average: first batch, then 10% of the way to the second.
  EXPECT_NEAR(s.emaMax, 1.0 + 0.1 * (10.0 - 1.0), 1e-9);
  // The last dim changed: no per-channel statistics.
  EXPECT_TRUE(s.chMin.empty());
}

TEST(Calibration, PerChannelAndNan) {
  TensorStats s;
  std::vector<float> a = {1, -2, 3, -4, NAN, 6};
  s.observe(a.data(), 6, 2); // channels: {1, 3, NaN} and {-2, -4, 6}
  ASSERT_EQ(s.chMin.size(), 2u);
  EXPECT_EQ(s.chMin[0], 1.0f);
  EXPECT_EQ(s.chMax[0], 3.0f);
  EXPECT_EQ(s.chMin[1], -4.0f);
  EXPECT_EQ(s.chMax[1], 6.0f);
  EXPECT_EQ(s.nans, 1u);
}

TEST(Calibration, ParamsByHand) {
  // Asymmetric int8 over [-1, 3]: scale 4/255, zero point -128 + 63.75 -> -64.
  QParams p = chooseParams({-1, 3}, 8, false);
  EXPECT_DOUBLE_EQ(p.scale, 4.0 / 255);
  EXPECT_EQ(p.zeroPoint, -64);
  EXPECT_EQ(p.qmin, -128);
  EXPECT_EQ(p.qmax, 127);
  // A range that excludes 0 is widened to contain it (0 exact).
  p = chooseParams({0.5, 2.0}, 8, false);
  EXPECT_DOUBLE_EQ(p.scale, 2.0 / 255);
  EXPECT_EQ(p.zeroPoint, -128);
  // Symmetric narrow range.
  p = chooseParams({-1, 3}, 16, true);
  EXPECT_DOUBLE_EQ(p.scale, 3.0 / 32767);
  EXPECT_EQ(p.zeroPoint, 0);
  EXPECT_EQ(p.qmin, -32767);
}

TEST(Calibration, TargetEncodings) {
  // Unsigned asymmetric (QNN HTP): the signed parameters shifted by 2^(b-1).
  QParams s = chooseParams({-1, 3}, 8, false);
  QParams u = chooseParams({-1, 3}, Encoding{8, false, true, false});
  EXPECT_EQ(u.scale, s.scale);
  EXPECT_EQ(u.zeroPoint, s.zeroPoint + 128);
  EXPECT_EQ(u.qmin, 0);
  EXPECT_EQ(u.qmax, 255);
  QParams u16 = chooseParams({0, 2}, Encoding{16, false, true, false});
  EXPECT_EQ(u16.zeroPoint, 0);
  EXPECT_EQ(u16.qmax, 65535);
  // Power of two (XINT8): symmetric, the smallest 2^k covering max|x|.
  QParams p = chooseParams({-1, 3}, Encoding{8, true, false, true});
  EXPECT_EQ(p.scale, 1.0 / 32); // 3/127 = 0.0236 -> 2^-5 = 0.03125
  EXPECT_EQ(p.zeroPoint, 0);
  EXPECT_EQ(p.qmax, 127);
  QParams p2 = chooseParams({-0.5, 0.25}, Encoding{8, true, false, true});
  EXPECT_EQ(p2.scale, 1.0 / 128); // 0.5/127 = 0.00394 > 2^-8: the covering power is 2^-7
}

TEST(Calibration, RangeMethodsClipOutliers) {
  // 100k Gaussian values plus one huge outlier.
  std::mt19937 rng(1);
  std::normal_distribution<float> n(0, 1);
  std::vector<float> x(100000);
  for (float &v : x)
    v = n(rng);
  x[123] = 100.0f;
  TensorStats s;
  s.observe(x.data(), int64_t(x.size()), 0);
  RangeOptions o;
  o.bits = 8;
  o.method = RangeMethod::MinMax;
  EXPECT_EQ(chooseRange(s, o).hi, 100.0);
  // (MSE keeps most of the range here: one outlier's squared clipping
  // error outweighs the rounding noise saved on 100k values.)
  for (RangeMethod m : {RangeMethod::Percentile, RangeMethod::Entropy}) {
    o.method = m;
    Range r = chooseRange(s, o);
    EXPECT_LT(r.hi, 20.0) << rangeMethodName(m);
    EXPECT_GT(r.hi, 2.0) << rangeMethodName(m);
    EXPECT_LT(r.lo, -2.0) << rangeMethodName(m);
  }
  // MSE is never worse than min-max on the histogram it optimizes.
  o.method = RangeMethod::Mse;
  Range mse = chooseRange(s, o);
  EXPECT_LE(histogramError(s, chooseParams(mse, 8, false)),
            histogramError(s, chooseParams({s.min, s.max}, 8, false)));
  RangeMethod parsed;
  EXPECT_TRUE(parseRangeMethod("moving-average", parsed));
  EXPECT_EQ(parsed, RangeMethod::MovingAverage);
  EXPECT_FALSE(parseRangeMethod("kl", parsed));
}

TEST(Calibration, StatsJsonRoundTrip) {
  CalibrationStats st;
  st.source = "test";
  st.modelSha256 = "abc";
  st.sequences = 2;
  st.seqLen = 3;
  std::vector<float> x = {1, -2, 3, 4, 5, -6};
  TensorStats &t = st.tensors["layer.0"];
  t.observe(x.data(), 6, 3);
  t.observeGram(x.data(), 6, 3);
  CalibrationStats back;
  std::string err;
  ASSERT_TRUE(CalibrationStats::fromJson(st.toJson(), back, err)) << err;
  const TensorStats &b = back.tensors.at("layer.0");
  EXPECT_EQ(b.min, t.min);
  EXPECT_EQ(b.max, t.max);
  EXPECT_EQ(b.pos, t.pos);
  EXPECT_EQ(b.neg, t.neg);
  EXPECT_EQ(b.chMax, t.chMax);
  EXPECT_EQ(b.gramDim, 3);
  EXPECT_EQ(b.gram, t.gram);
  EXPECT_EQ(t.gram[0], 1.0 + 16.0); // rows {1,-2,3} and {4,5,-6}
  EXPECT_EQ(t.gram[1], -2.0 + 20.0);
  EXPECT_FALSE(CalibrationStats::fromJson("{\"format\": \"x\"}", back, err));
  EXPECT_FALSE(CalibrationStats::fromJson("not json", back, err));

  ActivationRange ra, rb;
  ra.lo = -1, ra.hi = 2, ra.bits = 8, ra.isUnsigned = true;
  rb.lo = -3, rb.hi = 3, rb.bits = 16, rb.symmetric = true, rb.powerOfTwo = true;
  rb.channelLo = {-1, -3}, rb.channelHi = {1, 3};
  ActivationRanges r{{"a", ra}, {"b", rb}};
  ActivationRanges r2;
  ASSERT_TRUE(rangesFromJson(rangesToJson(r), r2, err)) << err;
  EXPECT_EQ(r2.at("b").bits, 16);
  EXPECT_TRUE(r2.at("b").symmetric);
  EXPECT_TRUE(r2.at("b").powerOfTwo);
  EXPECT_FALSE(r2.at("b").isUnsigned);
  EXPECT_TRUE(r2.at("a").isUnsigned);
  EXPECT_EQ(r2.at("b").channelHi, (std::vector<double>{1, 3}));
  EXPECT_FALSE(rangesFromJson("{\"format\": \"mu-activation-ranges\", \"tensors\": {\"a\": {\"lo\": 2, \"hi\": 1}}}", r2, err));
}

TEST(Calibration, GptqLowersOutputError) {
  // Correlated inputs (a few strong directions): GPTQ's output error
  // ||X (W - Wq)^T|| must be below round-to-nearest's with the same scales.
  std::mt19937 rng(3);
  std::normal_distribution<double> n(0, 1);
  const int64_t rows = 32, cols = 64, samples = 512;
  std::vector<float> w(rows * cols);
  for (float &v : w)
    v = float(n(rng) * 0.05);
  std::vector<double> X(samples * cols);
  for (int64_t s = 0; s < samples; ++s) {
    double a = n(rng), b = n(rng);
    for (int64_t k = 0; k < cols; ++k)
      X[s * cols + k] = a * std::sin(0.1 * k) * 3 + b * (k % 7 == 0 ? 5 : 0.2) + 0.3 * n(rng);
  }
  std::vector<double> H(cols * cols, 0.0);
  for (int64_t s = 0; s < samples; ++s)
    for (int64_t i = 0; i < cols; ++i)
      for (int64_t j = 0; j < cols; ++j)
        H[i * cols + j] += X[s * cols + i] * X[s * cols + j];
  auto outErr = [&](const RowQuantResult &r) {
    double e = 0;
    for (int64_t s = 0; s < samples; ++s)
      for (int64_t o = 0; o < rows; ++o) {
        double d = 0;
        for (int64_t k = 0; k < cols; ++k)
          d += X[s * cols + k] * (w[o * cols + k] - r.q[o * cols + k] * r.scales[o]);
        e += d * d;
      }
    return e;
  };
  for (int bits : {4, 8}) {
    RowQuantResult rtn = quantizeRowsMse(w.data(), rows, cols, bits);
    RowQuantResult gptq = quantizeRowsGptq(w.data(), rows, cols, bits, H.data());
    EXPECT_EQ(gptq.scales, rtn.scales);
    for (int32_t q : gptq.q)
      EXPECT_LE(std::abs(q), qmax(bits));
    EXPECT_LT(outErr(gptq), 0.7 * outErr(rtn)) << bits << " bits";
  }
}
