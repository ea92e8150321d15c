//===- FuzzTokenizer.cpp - the runtime tokenizer's encoder/decoder ---===//
///
/// \file
/// The tokenizer of MU_FUZZ_BASE (a .mub with an embedded tokenizer) encodes
/// the input as text and decodes it as little-endian u16 ids (any value,
/// in or out of the vocabulary), whole and streamed one token at a time.
///
//===----------------------------------------------------------------------===//
#include "mu/runtime/Runtime.h"
#include "mu/runtime/Tokenizer.h"
#include "mub_generated.h"

#include <cstdio>
#include <cstdlib>

using namespace mu::rt;

static std::unique_ptr<Model> gModel;
static Tokenizer gTok;

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
  Status st;
  if (const char *base = std::getenv("MU_FUZZ_BASE"))
    gModel = Model::load(base, st);
  if (!gModel || !gTok.init(gModel->fb().tokenizer()).ok || !gTok.valid()) {
    std::fprintf(stderr, "fuzz-tokenizer: set MU_FUZZ_BASE to a .mub with a tokenizer (%s)\n",
                 st.message.c_str());
    std::exit(2);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string text(reinterpret_cast<const char *>(data), size);
  std::vector<int> ids = gTok.encode(text, size & 1);
  (void)gTok.decode(ids);
  std::vector<int> raw;
  for (size_t i = 0; i + 1 < size; i += 2)
    raw.push_back(int(data[i]) | int(data[i + 1]) << 8);
  (void)gTok.decode(raw, size & 2);
  for (int id : raw) {
    (void)gTok.tokenBytes(id);
    (void)gTok.isSpecial(id);
  }
  return 0;
}
