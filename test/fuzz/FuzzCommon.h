//===- FuzzCommon.h - helpers shared by the fuzz targets -------*- C++ -*-===//
///
/// \file
/// The readers under test take paths, so each input is written to a
/// per-process file in a RAM-backed directory first. Built with libFuzzer
/// (-DMU_FUZZ=ON, clang) or, with any compiler, with ReplayMain.cpp, which
/// runs the target over files and directories given on the command line.
///
//===----------------------------------------------------------------------===//
#ifndef MU_TEST_FUZZ_FUZZCOMMON_H
#define MU_TEST_FUZZ_FUZZCOMMON_H

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>

namespace mu {
namespace fuzz {

/// Writes `data` to a scratch file named with `suffix` (the readers dispatch
/// on extensions) and returns its path.
inline std::string scratchFile(const uint8_t *data, size_t size, const std::string &suffix) {
  const char *dir = std::getenv("MU_FUZZ_TMP");
  std::string base = dir ? dir : (access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
  std::string path = base + "/mu-fuzz-" + std::to_string(getpid()) + suffix;
  if (FILE *f = std::fopen(path.c_str(), "wb")) {
    if (size)
      std::fwrite(data, 1, size, f);
    std::fclose(f);
  }
  return path;
}

} // namespace fuzz
} // namespace mu

#endif // MU_TEST_FUZZ_FUZZCOMMON_H
