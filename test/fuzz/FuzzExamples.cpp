//===- FuzzExamples.cpp - task data readers (JSONL, TSV) -------------===//
///
/// \file
/// readExamples as `mu-run --eval` and seq2seq calibration use it; the
/// first input byte picks the format and the options.
///
//===----------------------------------------------------------------------===//
#include "FuzzCommon.h"
#include "mu/runtime/Eval.h"

using namespace mu::rt;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0)
    return 0;
  uint8_t sel = data[0];
  std::string path = mu::fuzz::scratchFile(data + 1, size - 1, sel & 1 ? ".tsv" : ".jsonl");
  ReadExamplesOptions o;
  o.requireTarget = sel & 2;
  o.skip = (sel >> 2) & 3;
  o.limit = (sel >> 4) & 3;
  std::vector<Example> out;
  Status st = readExamples(path, o, out);
  if (st.ok)
    for (const Example &e : out)
      (void)(e.input.size() + e.target.size() + e.adapter.size());
  return 0;
}
