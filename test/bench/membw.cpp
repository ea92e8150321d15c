//===- membw.cpp - measured DRAM read bandwidth (for the decode roofline) -===//
///
/// Reads a 512 MiB buffer (far larger than any cache) with 1..N threads,
/// best of 5, and prints GB/s per thread count. Plain C++17; the compiler
/// vectorizes the 64-bit XOR reduction.
///
//===----------------------------------------------------------------------===//
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

int main(int argc, char **argv) {
  int maxThreads = argc > 1 ? std::atoi(argv[1]) : 2;
  const size_t n = size_t(512) << 20, words = n / 8;
  std::vector<uint64_t> buf(words, 1);
  for (int t = 1; t <= maxThreads; ++t) {
    double best = 1e30;
    uint64_t sink = 0;
    for (int rep = 0; rep < 5; ++rep) {
      std::vector<uint64_t> part(size_t(t), 0);
      auto t0 = std::chrono::steady_clock::now();
      std::vector<std::thread> ts;
      for (int i = 0; i < t; ++i)
        ts.emplace_back([&, i] {
          uint64_t a = 0, b = 0, c = 0, d = 0;
          for (size_t w = words * i / t; w + 4 <= words * (i + 1) / t; w += 4) {
            a ^= buf[w]; b ^= buf[w + 1]; c ^= buf[w + 2]; d ^= buf[w + 3];
          }
          part[size_t(i)] = a ^ b ^ c ^ d;
        });
      for (auto &th : ts)
        th.join();
      double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      best = s < best ? s : best;
      for (uint64_t p : part)
        sink ^= p;
    }
    std::printf("threads %d read_GBps %.2f (check %llu)\n", t, double(n) / best / 1e9,
                (unsigned long long)(sink & 1));
  }
  return 0;
}
