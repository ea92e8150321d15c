//===- FuzzTokenizerJson.cpp - tokenizer.json + tokenizer_config.json -===//
///
/// \file
/// Input: [u32 length] tokenizer_config.json, then tokenizer.json.
///
//===----------------------------------------------------------------------===//
#include "FuzzSplit.h"
#include "mu/Artifact/MubWriter.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string dir =
      mu::fuzz::splitIntoDir(data, size, {"tokenizer_config.json", "tokenizer.json"});
  mu::TokenizerData t;
  std::string error;
  (void)mu::importTokenizerJson(dir + "/tokenizer.json", t, error);
  return 0;
}
