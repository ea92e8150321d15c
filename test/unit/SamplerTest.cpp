//===- SamplerTest.cpp - sampling without a full sort ---------------------===//
#include "mu/runtime/Generate.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

using namespace mu::rt;

TEST(Sampler, MatchesTheDistributionAndItsCuts) {
  // Probabilities 1:2:4 (temperature 1) among 3 tokens, the rest negligible.
  std::vector<float> logits(2000, -100.0f);
  logits[10] = 0.0f;
  logits[20] = std::log(2.0f);
  logits[30] = std::log(4.0f);
  SamplingOptions o;
  o.seed = 9;
  Sampler s(o);
  int count[3] = {0, 0, 0};
  const int draws = 20000;
  for (int i = 0; i < draws; ++i) {
    int t = s.sample(logits.data(), int(logits.size()));
    ASSERT_TRUE(t == 10 || t == 20 || t == 30) << t;
    count[t / 10 - 1]++;
  }
  EXPECT_NEAR(count[0] / double(draws), 1.0 / 7, 0.01);
  EXPECT_NEAR(count[1] / double(draws), 2.0 / 7, 0.01);
  EXPECT_NEAR(count[2] / double(draws), 4.0 / 7, 0.01);

  // top-k 1 and a tiny top-p keep only the most likely token.
  SamplingOptions k1 = o, p1 = o;
  k1.topK = 1;
  p1.topP = 0.1f;
  Sampler a(k1), b(p1);
  for (int i = 0; i < 200; ++i) {
    EXPECT_EQ(a.sample(logits.data(), int(logits.size())), 30);
    EXPECT_EQ(b.sample(logits.data(), int(logits.size())), 30);
  }
  // top-p 0.8 keeps {30, 20} (4/7 < 0.8 <= 6/7), never 10.
  SamplingOptions p8 = o;
  p8.topP = 0.8f;
  Sampler c(p8);
  for (int i = 0; i < 2000; ++i)
    EXPECT_NE(c.sample(logits.data(), int(logits.size())), 10);
  // Same seed, same draws.
  Sampler d1(o), d2(o);
  for (int i = 0; i < 100; ++i)
    EXPECT_EQ(d1.sample(logits.data(), int(logits.size())), d2.sample(logits.data(), int(logits.size())));
}
