//===- Cpu.h - CPU features, kernel selection, thread pool -----*- C++ -*-===//
///
/// \file
/// Run-time dispatch for the optimized kernels: the instruction sets this
/// CPU has (cpuid), which kernel family is in use (the best available, or
/// the one `MU_KERNELS=portable|avx2|avx512` / setKernelIsa() asks for, so
/// tests can compare every family with the reference on one machine), and a
/// small spinning thread pool for data-parallel kernels.
///
//===----------------------------------------------------------------------===//
#ifndef MU_RUNTIME_CPU_CPU_H
#define MU_RUNTIME_CPU_CPU_H

#include "mu/runtime/Runtime.h"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace mu {
namespace rt {

/// A fixed set of workers that run `fn(task)` for task in [0, count) with
/// the calling thread taking part. Workers spin briefly between jobs (a
/// decode step issues a job every few microseconds), then sleep.
class ThreadPool {
public:
  explicit ThreadPool(int threads);
  ~ThreadPool();
  int size() const { return int(workers_.size()) + 1; }
  /// Runs fn(0) .. fn(count - 1), each exactly once, and returns when all
  /// are done. Task i always runs on thread i % size(), so results do not
  /// depend on timing.
  void run(int count, const std::function<void(int)> &fn);

private:
  void work(int id);
  std::vector<std::thread> workers_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
  const std::function<void(int)> *fn_ = nullptr;
  int count_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<int> sleepers_{0};
};

} // namespace rt
} // namespace mu

#endif // MU_RUNTIME_CPU_CPU_H
