//===- FuzzMub.cpp - .mub loader, verifier and executor --------------===//
///
/// \file
/// A verified artifact must never crash the executor: every input the
/// loader accepts is also run, briefly — its tokenizer on a fixed text, then
/// three greedy tokens through the KV-cache programs (or the encoder and
/// decoder), then the same through the full-sequence program, with every
/// embedded adapter too.
///
//===----------------------------------------------------------------------===//
#include "FuzzCommon.h"
#include "mu/runtime/Eval.h"
#include "mu/runtime/Generate.h"
#include "mu/runtime/Runtime.h"
#include "mu/runtime/Tokenizer.h"
#include "mub_generated.h"

using namespace mu::rt;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string path = mu::fuzz::scratchFile(data, size, ".mub");
  Status st;
  std::unique_ptr<Model> model = Model::load(path, st);
  if (!model)
    return 0;
  Tokenizer tok;
  std::vector<int> prompt = {1, 2, 3};
  if (tok.init(model->fb().tokenizer()).ok && tok.valid()) {
    std::vector<int> ids = tok.encode("Once upon a time, \xc3\xa9t\xc3\xa9 <|im_end|>");
    (void)tok.decode(ids);
    for (int id : ids)
      (void)tok.tokenBytes(id);
  }
  SessionOptions so;
  so.threads = 1;
  Session session(*model, so);
  Generator gen(*model, session);
  SamplingOptions greedy;
  greedy.greedy = true;
  std::vector<std::string> adapters = model->adapterNames();
  adapters.insert(adapters.begin(), "");
  for (const std::string &a : adapters) {
    if (!session.setAdapter(a).ok)
      continue;
    for (bool cached : {true, false}) {
      gen.setUseCache(cached);
      session.resetState();
      GenerateStats stats;
      if (gen.isEncoderDecoder()) {
        std::vector<int> out;
        (void)gen.generateSeq2Seq(prompt, decoderStartId(*model, tok), 3, greedy, {}, nullptr, out,
                                  stats);
      } else {
        std::vector<int> ids = prompt;
        (void)gen.generate(ids, 3, greedy, {}, nullptr, stats);
      }
    }
  }
  return 0;
}
