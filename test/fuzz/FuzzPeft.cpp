//===- FuzzPeft.cpp - PEFT LoRA adapter reader -----------------------===//
///
/// \file
/// Input: [u32 length] adapter_config.json, then adapter_model.safetensors.
///
//===----------------------------------------------------------------------===//
#include "FuzzSplit.h"
#include "mu/Import/Import.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string dir =
      mu::fuzz::splitIntoDir(data, size, {"adapter_config.json", "adapter_model.safetensors"});
  std::vector<mu::LoraDelta> modules;
  std::string error;
  (void)mu::readLoraAdapter(dir, 1.0, modules, error);
  return 0;
}
