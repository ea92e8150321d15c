//===- IntegerTest.cpp - the integer arithmetic spec, by hand -------------===//
#include "mu/runtime/Integer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

using namespace mu::rt;

TEST(Integer, QuantizeMultiplier) {
  FixedPointMultiplier m;
  ASSERT_TRUE(quantizeMultiplier(0.5, m)); // 0.5 = 2^30 * 2^-31
  EXPECT_EQ(m.multiplier, 1 << 30);
  EXPECT_EQ(m.shift, 31);
  ASSERT_TRUE(quantizeMultiplier(1.0, m)); // 1 = 2^30 * 2^-30
  EXPECT_EQ(m.multiplier, 1 << 30);
  EXPECT_EQ(m.shift, 30);
  ASSERT_TRUE(quantizeMultiplier(0.75, m)); // 0.75 = 3*2^29 * 2^-31
  EXPECT_EQ(m.multiplier, 3 << 29);
  EXPECT_EQ(m.shift, 31);
  // Representation error is below 2^-31 relative.
  ASSERT_TRUE(quantizeMultiplier(0.0123456789, m));
  double back = double(m.multiplier) * std::ldexp(1.0, -m.shift);
  EXPECT_LT(std::fabs(back / 0.0123456789 - 1.0), std::ldexp(1.0, -30));
  EXPECT_FALSE(quantizeMultiplier(0.0, m));
  EXPECT_FALSE(quantizeMultiplier(-1.0, m));
  EXPECT_FALSE(quantizeMultiplier(std::ldexp(1.0, -40), m)); // shift > 62
}

TEST(Integer, RoundHalfUp) {
  FixedPointMultiplier half;
  ASSERT_TRUE(quantizeMultiplier(0.5, half));
  // acc * 0.5 with ties: 5*0.5 = 2.5 -> 3; -5*0.5 = -2.5 -> -2 (toward +inf).
  EXPECT_EQ(applyMultiplier(5, half), 3);
  EXPECT_EQ(applyMultiplier(-5, half), -2);
  EXPECT_EQ(applyMultiplier(4, half), 2);
  EXPECT_EQ(applyMultiplier(-4, half), -2);
  EXPECT_EQ(applyMultiplier(7, half), 4);   // 3.5 -> 4
  EXPECT_EQ(applyMultiplier(-7, half), -3); // -3.5 -> -3
  FixedPointMultiplier q;
  ASSERT_TRUE(quantizeMultiplier(0.25, q));
  EXPECT_EQ(applyMultiplier(6, q), 2);   // 1.5 -> 2
  EXPECT_EQ(applyMultiplier(5, q), 1);   // 1.25 -> 1
  EXPECT_EQ(applyMultiplier(-6, q), -1); // -1.5 -> -1
}

TEST(Integer, RequantizeZeroPointAndSaturation) {
  FixedPointMultiplier m;
  ASSERT_TRUE(quantizeMultiplier(0.1, m));
  EXPECT_EQ(requantize(1000, m, 0, -128, 127), 100);
  EXPECT_EQ(requantize(1000, m, 20, -128, 127), 120);
  EXPECT_EQ(requantize(2000, m, 0, -128, 127), 127);    // saturate high
  EXPECT_EQ(requantize(-2000, m, 0, -128, 127), -128);  // saturate low
  EXPECT_EQ(requantize(-1000, m, -28, -128, 127), -128); // -100 - 28 = -128 exactly
  EXPECT_EQ(requantize(400000, m, 0, -32768, 32767), 32767); // int16 output
  EXPECT_EQ(requantize(300000, m, 0, -32768, 32767), 30000);
  EXPECT_EQ(requantize(0, m, 5, 0, 255), 5); // uint8 with zero point
  // A huge multiplier saturates in int32 before the zero point is added.
  FixedPointMultiplier big;
  ASSERT_TRUE(quantizeMultiplier(1000.0, big));
  EXPECT_EQ(applyMultiplier(3000000, big), 2147483647);
}

TEST(Integer, LinearPerChannelByHand) {
  // x: 1x3 int8 with zero point 1 -> real offsets (x - 1) = {2, -3, 4}.
  const int32_t x[3] = {3, -2, 5};
  // Two output channels, symmetric int8 weights.
  const int8_t w[2 * 3] = {1, 2, 3,     // sum = 2 - 6 + 12 = 8
                           -4, 0, 10};  // sum = -8 + 0 + 40 = 32
  const int32_t bias[2] = {2, -2};     // acc = 10, 30
  // Channel scales differ: multipliers 0.5 and 0.25 (x*w scale / y scale).
  FixedPointMultiplier mult[2];
  ASSERT_TRUE(quantizeMultiplier(0.5, mult[0]));
  ASSERT_TRUE(quantizeMultiplier(0.25, mult[1]));
  int32_t y[2];
  linearInt(x, 1, 3, /*xZero=*/1, w, 2, bias, mult, /*yZero=*/-3, -128, 127, y);
  EXPECT_EQ(y[0], 10 / 2 - 3);   // 2
  EXPECT_EQ(y[1], 30 / 4 + 1 - 3); // 7.5 -> 8 (half up), then -3 = 5
  // Saturation on the output range.
  linearInt(x, 1, 3, 1, w, 2, bias, mult, 0, -4, 4, y);
  EXPECT_EQ(y[0], 4);
  EXPECT_EQ(y[1], 4);
  // int16 activations (zero point 0) take the same path.
  const int32_t x16[3] = {1000, -2000, 3000};
  linearInt(x16, 1, 3, 0, w, 2, nullptr, mult, 0, -32768, 32767, y);
  EXPECT_EQ(y[0], (1000 - 4000 + 9000) / 2);  // 3000
  EXPECT_EQ(y[1], (-4000 + 30000) / 4);       // 6500 exactly (no tie)
}

TEST(Integer, WideAccumulatorsAndInt16Weights) {
  // 4096 products of 32767 * 32767: far beyond int32, exact in int64.
  std::vector<int32_t> x(4096, 32767);
  std::vector<int16_t> w(4096, 32767);
  int64_t acc;
  linearAcc(x.data(), 1, 4096, 0, w.data(), 1, nullptr, &acc);
  EXPECT_EQ(acc, int64_t(4096) * 32767 * 32767);
  // Requantizing a 2^40-scale accumulator by 2^-30 uses the 128-bit product.
  FixedPointMultiplier m;
  ASSERT_TRUE(quantizeMultiplier(std::ldexp(1.0, -30), m));
  EXPECT_EQ(applyMultiplier(int64_t(1) << 40, m), 1024);
  EXPECT_EQ(applyMultiplier(int64_t(3) << 29, m), 2);   // 1.5 -> 2 (half up)
  EXPECT_EQ(applyMultiplier(-(int64_t(3) << 29), m), -1); // -1.5 -> -1
  EXPECT_EQ(applyMultiplier(int64_t(1) << 62, m), 2147483647); // saturates
}

TEST(Integer, QuantizeValueRoundsHalfToEven) {
  EXPECT_EQ(quantizeValue(0.5f, 1.0f, 0, -128, 127), 0);
  EXPECT_EQ(quantizeValue(1.5f, 1.0f, 0, -128, 127), 2);
  EXPECT_EQ(quantizeValue(2.5f, 1.0f, 0, -128, 127), 2);
  EXPECT_EQ(quantizeValue(-2.5f, 1.0f, 0, -128, 127), -2);
  EXPECT_EQ(quantizeValue(2.5f, 1.0f, 10, -128, 127), 12); // zero point after rounding
  EXPECT_EQ(quantizeValue(1000.0f, 1.0f, 0, -127, 127), 127);
  EXPECT_EQ(quantizeValue(-1000.0f, 1.0f, 0, -127, 127), -127); // narrow range
  EXPECT_EQ(quantizeValue(NAN, 1.0f, 3, -128, 127), 3);
}
