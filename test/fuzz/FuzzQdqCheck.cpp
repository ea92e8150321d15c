//===- FuzzQdqCheck.cpp - the QDQ ONNX convention checker ------------===//
#include "FuzzCommon.h"
#include "mu/Export/QdqCheck.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string path = mu::fuzz::scratchFile(data, size, ".onnx");
  mu::QdqCheckResult r;
  std::string error;
  if (mu::checkQdqOnnx(path, nullptr, "", r, error)) {
    (void)r.summary();
    (void)r.toJson();
  }
  return 0;
}
