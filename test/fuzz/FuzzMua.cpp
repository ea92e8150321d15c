//===- FuzzMua.cpp - .mua adapter files against a fixed base ---------===//
///
/// \file
/// The base artifact comes from MU_FUZZ_BASE (a valid .mub with LoRA sites);
/// every adapter file it accepts is selected and run for two greedy tokens.
///
//===----------------------------------------------------------------------===//
#include "FuzzCommon.h"
#include "mu/runtime/Eval.h"
#include "mu/runtime/Generate.h"
#include "mu/runtime/Runtime.h"

#include <cstdio>

using namespace mu::rt;

static std::unique_ptr<Model> gBase;

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
  const char *base = std::getenv("MU_FUZZ_BASE");
  Status st;
  if (base)
    gBase = Model::load(base, st);
  if (!gBase) {
    std::fprintf(stderr, "fuzz-mua: set MU_FUZZ_BASE to a valid base .mub (%s)\n",
                 st.message.c_str());
    std::exit(2);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string path = mu::fuzz::scratchFile(data, size, ".mua");
  Status st;
  std::unique_ptr<Adapter> ad = Adapter::load(*gBase, path, st);
  if (!ad)
    return 0;
  SessionOptions so;
  so.threads = 1;
  Session session(*gBase, so);
  if (!session.setAdapter(ad.get()).ok)
    return 0;
  Generator gen(*gBase, session);
  SamplingOptions greedy;
  greedy.greedy = true;
  GenerateStats stats;
  std::vector<int> ids = {1, 2, 3};
  if (gen.isEncoderDecoder()) {
    std::vector<int> out;
    (void)gen.generateSeq2Seq(ids, 0, 2, greedy, {}, nullptr, out, stats);
  } else {
    (void)gen.generate(ids, 2, greedy, {}, nullptr, stats);
  }
  return 0;
}
