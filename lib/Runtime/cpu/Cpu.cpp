//===- Cpu.cpp - CPU features, kernel selection, thread pool --------------===//
#include "Cpu.h"

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <string>
#include <utility>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define MU_X86 1
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif
#elif defined(__aarch64__) && defined(__linux__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

namespace mu {
namespace rt {

const char *isaName(Isa isa) {
  switch (isa) {
  case Isa::Portable: return "portable";
  case Isa::Avx2: return "avx2";
  case Isa::Avx512Vnni: return "avx512-vnni";
  case Isa::NeonDot: return "neon-dotprod";
  case Isa::AmxInt8: return "amx-int8";
  }
  return "?";
}

namespace {

struct Features {
  bool avx2 = false, avx512vnni = false, amxInt8 = false, neondot = false;
};

#ifdef MU_X86
uint64_t xgetbv0() {
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (uint64_t(hi) << 32) | lo;
}
#endif

Features detect() {
  Features f;
#ifdef MU_X86
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d))
    return f;
  bool osxsave = c & (1u << 27), fma = c & (1u << 12), f16c = c & (1u << 29);
  if (!osxsave)
    return f;
  uint64_t xcr0 = xgetbv0();
  bool ymm = (xcr0 & 0x6) == 0x6, zmm = (xcr0 & 0xe6) == 0xe6;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
    return f;
  bool avx2 = b & (1u << 5);
  bool avx512f = b & (1u << 16), avx512bw = b & (1u << 30), avx512vl = b & (1u << 31);
  bool vnni = c & (1u << 11);
  f.avx2 = ymm && avx2 && fma && f16c;
  f.avx512vnni = f.avx2 && zmm && avx512f && avx512bw && avx512vl && vnni;
  // AMX: the CPU has tiles and int8 tile multiplies, the OS saves tile state
  // (XCR0 bits 17-18) and lets this process use it (Linux asks each process
  // to request the tile data state: ARCH_REQ_XCOMP_PERM).
  bool amxTile = d & (1u << 24), amxInt8 = d & (1u << 25);
  bool tileState = (xcr0 & 0x60000) == 0x60000;
  if (f.avx512vnni && amxTile && amxInt8 && tileState) {
#if defined(__linux__)
    constexpr long kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
    f.amxInt8 = syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
#endif
  }
#elif defined(__aarch64__) && defined(__linux__)
  f.neondot = getauxval(AT_HWCAP) & HWCAP_ASIMDDP;
#endif
  return f;
}

/// A spin-wait hint to the core (pause / yield).
inline void cpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ volatile("yield");
#endif
}

const Features &features() {
  static const Features f = detect();
  return f;
}

bool built(Isa isa) {
  switch (isa) {
  case Isa::Portable: return true;
#ifdef MU_HAVE_X86_KERNELS
  case Isa::Avx2:
  case Isa::Avx512Vnni:
  case Isa::AmxInt8: return true;
#endif
#ifdef MU_HAVE_NEON_KERNELS
  case Isa::NeonDot: return true;
#endif
  default: return false;
  }
}

Isa best() {
  // AVX-512 VNNI first: bit-exact with the reference on a Sapphire-Rapids-
  // class CPU (mu-run --check-kernels, KernelsTest), and 1.5-2x the AVX2
  // kernel on prefill there (docs/performance.md).
  // AMX-INT8 where the OS grants it: the VNNI kernels plus tile multiplies
  // for prefill rows, equally bit-exact.
  for (Isa i : {Isa::AmxInt8, Isa::Avx512Vnni, Isa::NeonDot, Isa::Avx2})
    if (isaSupported(i))
      return i;
  return Isa::Portable;
}

Isa initial() {
  Isa isa = best();
  if (const char *env = std::getenv("MU_KERNELS")) {
    for (Isa i : kAllIsas)
      if (std::strcmp(env, isaName(i)) == 0 ||
          (i == Isa::Avx512Vnni && !std::strcmp(env, "avx512")))
        if (isaSupported(i))
          isa = i;
  }
  return isa;
}

std::atomic<int> &current() {
  static std::atomic<int> c{int(initial())};
  return c;
}

} // namespace

bool isaSupported(Isa isa) {
  if (!built(isa))
    return false;
  switch (isa) {
  case Isa::Portable: return true;
  case Isa::Avx2: return features().avx2;
  case Isa::Avx512Vnni: return features().avx512vnni;
  case Isa::AmxInt8: return features().amxInt8;
  case Isa::NeonDot: return features().neondot;
  }
  return false;
}

Isa activeIsa() { return Isa(current().load(std::memory_order_relaxed)); }

bool setKernelIsa(Isa isa) {
  if (!isaSupported(isa))
    return false;
  current().store(int(isa));
  return true;
}

int physicalCores() {
  // Distinct (physical id, core id) pairs in /proc/cpuinfo; else logical CPUs.
  std::ifstream in("/proc/cpuinfo");
  std::set<std::pair<int, int>> cores;
  std::string line;
  int phys = 0;
  while (std::getline(in, line)) {
    auto value = [&]() { return std::atoi(line.c_str() + line.find(':') + 1); };
    if (line.rfind("physical id", 0) == 0)
      phys = value();
    else if (line.rfind("core id", 0) == 0)
      cores.insert({phys, value()});
  }
  int logical = int(std::thread::hardware_concurrency());
  if (cores.empty())
    return logical > 0 ? logical : 1;
  return int(cores.size());
}

ThreadPool::ThreadPool(int threads) {
  for (int i = 1; i < threads; ++i)
    workers_.emplace_back([this, i] { work(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    generation_.fetch_add(1);
  }
  cv_.notify_all();
  for (auto &t : workers_)
    t.join();
}

void ThreadPool::work(int id) {
  uint64_t seen = 0;
  for (;;) {
    // Spin for a while (new jobs arrive every few microseconds while a
    // model runs), then sleep until the next job.
    auto t0 = std::chrono::steady_clock::now();
    int spins = 0;
    while (generation_.load(std::memory_order_acquire) == seen) {
      if (++spins % 1024 == 0 &&
          std::chrono::steady_clock::now() - t0 > std::chrono::milliseconds(2)) {
        std::unique_lock<std::mutex> lock(mu_);
        sleepers_.fetch_add(1);
        cv_.wait(lock, [&] { return generation_.load() != seen; });
        sleepers_.fetch_sub(1);
        break;
      }
      // Past a short spin, give the core away between checks: with more
      // runnable threads than cores (two runtimes, or other jobs), a pure
      // spin holds a core the thread being waited for needs.
      if (spins > 4096)
        std::this_thread::yield();
      else
        cpuRelax();
    }
    seen = generation_.load(std::memory_order_acquire);
    if (stop_)
      return;
    int n = size();
    for (int task = id; task < count_; task += n)
      (*fn_)(task);
    pending_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

void ThreadPool::run(int count, const std::function<void(int)> &fn) {
  if (workers_.empty() || count <= 1) {
    for (int i = 0; i < count; ++i)
      fn(i);
    return;
  }
  fn_ = &fn;
  count_ = count;
  pending_.store(int(workers_.size()), std::memory_order_relaxed);
  {
    // Publish under the lock so a worker about to sleep cannot miss it.
    std::lock_guard<std::mutex> lock(mu_);
    generation_.fetch_add(1, std::memory_order_acq_rel);
  }
  if (sleepers_.load() > 0)
    cv_.notify_all();
  int n = size();
  for (int task = 0; task < count; task += n)
    fn(task);
  // Wait for the workers; yield once the wait is longer than a spin (a
  // descheduled worker needs this core to finish).
  for (int spins = 0; pending_.load(std::memory_order_acquire) > 0; ++spins) {
    if (spins > 4096)
      std::this_thread::yield();
    else
      cpuRelax();
  }
}

} // namespace rt
} // namespace mu
