//===- FuzzTarget.cpp - target description files ---------------------===//
#include "mu/Target/Target.h"

#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  mu::target::Target t;
  std::string error;
  if (mu::target::parseTarget(std::string(reinterpret_cast<const char *>(data), size),
                              "fuzz.json", t, error))
    (void)mu::target::describeTarget(t);
  return 0;
}
