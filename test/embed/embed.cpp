//===- embed.cpp - a minimal embedder of libmu_runtime ---------------------===//
///
/// \file
/// Loads an artifact, encodes a prompt with its tokenizer, greedy-generates
/// up to N tokens through the KV cache and prints the new token ids on one
/// line. It uses only the API of include/mu/runtime (and the artifact schema
/// header for the tokenizer table), so built against libmu_runtime.so it
/// shows that the library exports what an embedder needs; the test
/// runtime-shared-api compares its ids with mu-run's.
///   mu-embed ARTIFACT PROMPT N
///
//===----------------------------------------------------------------------===//
#include "mu/runtime/Generate.h"
#include "mu/runtime/Runtime.h"
#include "mu/runtime/Tokenizer.h"
#include "mub_generated.h"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

int main(int argc, char **argv) {
  using namespace mu::rt;
  if (argc != 4) {
    std::fprintf(stderr, "usage: mu-embed ARTIFACT PROMPT N\n");
    return 2;
  }
  Status st;
  std::unique_ptr<Model> model = Model::load(argv[1], st);
  if (!model) {
    std::fprintf(stderr, "mu-embed: %s\n", st.message.c_str());
    return 1;
  }
  Tokenizer tok;
  st = tok.init(model->fb().tokenizer());
  if (!st || !tok.valid()) {
    std::fprintf(stderr, "mu-embed: %s: %s\n", argv[1],
                 st ? "the artifact has no tokenizer" : st.message.c_str());
    return 1;
  }
  Session session(*model, SessionOptions{});
  Generator gen(*model, session);
  std::vector<int> ids = tok.encode(argv[2]);
  size_t promptLen = ids.size();
  SamplingOptions greedy;
  greedy.greedy = true;
  GenerateStats stats;
  st = gen.generate(ids, std::atoi(argv[3]), greedy, tok.eosIds(), nullptr, stats);
  if (!st) {
    std::fprintf(stderr, "mu-embed: %s\n", st.message.c_str());
    return 1;
  }
  for (size_t i = promptLen; i < ids.size(); ++i)
    std::printf(i > promptLen ? " %d" : "%d", ids[i]);
  std::printf("\n");
  return 0;
}
