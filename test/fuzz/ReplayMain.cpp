//===- ReplayMain.cpp - run a fuzz target without libFuzzer -----------===//
///
/// \file
/// For compilers without -fsanitize=fuzzer: `fuzz-X FILE|DIR...` runs the
/// target once per file (a seed corpus, a crash reproducer). Exits non-zero
/// only if the target itself aborts.
///
//===----------------------------------------------------------------------===//
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
extern "C" int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static void runFile(const std::filesystem::path &p, size_t &n) {
  std::ifstream f(p, std::ios::binary);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
  ++n;
}

int main(int argc, char **argv) {
  if (LLVMFuzzerInitialize)
    LLVMFuzzerInitialize(&argc, &argv);
  size_t n = 0;
  for (int i = 1; i < argc; ++i) {
    std::filesystem::path p(argv[i]);
    if (p.string().rfind("-", 0) == 0)
      continue; // libFuzzer flags are accepted and ignored
    if (std::filesystem::is_directory(p)) {
      for (const auto &e : std::filesystem::recursive_directory_iterator(p))
        if (e.is_regular_file())
          runFile(e.path(), n);
    } else {
      runFile(p, n);
    }
  }
  std::printf("replayed %zu inputs\n", n);
  return 0;
}
