//===- FuzzSplit.h - one fuzz input as several files ------------*- C++ -*-===//
#ifndef MU_TEST_FUZZ_FUZZSPLIT_H
#define MU_TEST_FUZZ_FUZZSPLIT_H

#include "FuzzCommon.h"

#include <sys/stat.h>
#include <vector>

namespace mu {
namespace fuzz {

/// Splits an input into files of a scratch directory: a little-endian u32
/// length prefix before each file but the last (a seed is made by
/// test/fuzz/make_seeds.py). Returns the directory.
inline std::string splitIntoDir(const uint8_t *data, size_t size,
                                const std::vector<std::string> &names) {
  std::string dir = scratchFile(nullptr, 0, ".d");
  ::unlink(dir.c_str());
  ::mkdir(dir.c_str(), 0700);
  for (size_t k = 0; k < names.size(); ++k) {
    size_t n = size;
    if (k + 1 < names.size()) {
      uint32_t len = 0;
      if (size >= 4) {
        len = uint32_t(data[0]) | uint32_t(data[1]) << 8 | uint32_t(data[2]) << 16 |
              uint32_t(data[3]) << 24;
        data += 4;
        size -= 4;
      }
      n = std::min<size_t>(len, size);
    }
    if (FILE *f = std::fopen((dir + "/" + names[k]).c_str(), "wb")) {
      if (n)
        std::fwrite(data, 1, n, f);
      std::fclose(f);
    }
    data += n;
    size -= n;
  }
  return dir;
}

} // namespace fuzz
} // namespace mu

#endif // MU_TEST_FUZZ_FUZZSPLIT_H
