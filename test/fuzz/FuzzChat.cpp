//===- FuzzChat.cpp - what the handoff and mu-serve read from the network -===//
///
/// \file
/// The first input byte picks the reader, the second (where it matters) how
/// the rest is split into network reads:
///   0  an SSE stream from a completion endpoint: SseReader over reads of
///      varying sizes, each event through parseCompletionChunk (the same
///      events must come out however the bytes were split);
///   1  a /v1/chat/completions body, 2  a /v1/completions body: parsed and
///      checked with the tokenizer of MU_FUZZ_BASE (without one every prompt
///      tokenizes to nothing and only the checks before that are reached),
///      the chat template chosen by the second byte; an accepted request
///      must be within the limits, a refused one a 4xx with a message;
///   3  a seam: opener '\0' continuation, streamed in pieces; the result
///      must equal the one-shot stitch.
///
//===----------------------------------------------------------------------===//
#include "mu/chat/Request.h"
#include "mu/chat/Seam.h"
#include "mu/chat/Sse.h"
#include "mu/runtime/Runtime.h"
#include "mub_generated.h"

#include <cstdio>
#include <cstdlib>
#include <vector>

using namespace mu;

static std::unique_ptr<rt::Model> gModel;
static rt::Tokenizer gTok;
static bool gHaveTok = false;

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
  rt::Status st;
  const char *base = std::getenv("MU_FUZZ_BASE");
  if (base && *base) {
    gModel = rt::Model::load(base, st);
    gHaveTok = gModel && gTok.init(gModel->fb().tokenizer()).ok && gTok.valid();
    if (!gHaveTok) {
      std::fprintf(stderr, "fuzz-chat: MU_FUZZ_BASE must be a .mub with a tokenizer (%s)\n",
                   st.message.c_str());
      std::exit(2);
    }
  }
  return 0;
}

namespace {
/// Read sizes from the split byte: 1, 2, 3, 7, 64 or all at once.
size_t readSize(uint8_t split, size_t i) {
  static const size_t sizes[] = {1, 2, 3, 7, 64, size_t(-1)};
  return sizes[(split + i) % 6];
}

void sse(uint8_t split, const std::string &in) {
  auto run = [&](bool whole, std::vector<std::string> &events, std::string &error) {
    chat::SseReader reader(4096);
    auto onEvent = [&](const std::string &d) {
      chat::CompletionChunk c;
      bool ok = chat::parseCompletionChunk(d, c);
      events.push_back((ok ? "ok:" : "err:") + (ok ? c.text : c.error) + (c.done ? "|done" : ""));
      return ok;
    };
    size_t pos = 0, k = 0;
    bool ok = true;
    while (ok && pos < in.size()) {
      size_t n = whole ? in.size() : std::min(in.size() - pos, readSize(split, k++));
      ok = reader.feed(in.data() + pos, n, onEvent);
      pos += n;
    }
    if (ok)
      reader.finish(onEvent);
    error = reader.error();
  };
  std::vector<std::string> a, b;
  std::string ea, eb;
  run(true, a, ea);
  run(false, b, eb);
  if (a != b || ea != eb) {
    std::fprintf(stderr, "fuzz-chat: SSE events depend on how the stream was split\n");
    std::abort();
  }
}

void request(uint8_t split, const std::string &body, bool chat) {
  rt::ChatTemplate tmpl;
  static const char *names[] = {"chatml", "llama2", "plain"};
  if (!rt::ChatTemplate::byName(names[split % 3], tmpl).ok)
    std::abort();
  chat::RequestLimits limits{"model", 64, split & 8 ? 16 : 0, 128};
  chat::CompletionRequest r;
  chat::ApiError e;
  static rt::Tokenizer empty;
  bool ok = chat::parseCompletionRequest(body, chat, limits, gHaveTok ? gTok : empty, tmpl, 7, r, e);
  if (ok) {
    if (r.ids.empty() || r.maxTokens < 1 || r.maxTokens > limits.maxTokens ||
        int(r.ids.size()) + r.maxTokens > limits.contextTokens) {
      std::fprintf(stderr, "fuzz-chat: an accepted request breaks the limits\n");
      std::abort();
    }
  } else {
    if (e.status < 400 || e.status > 499 || e.message.empty())
      std::abort();
    (void)chat::errorJson(e);
  }
}

void seam(uint8_t split, const std::string &in) {
  size_t z = in.find('\0');
  std::string opener = in.substr(0, z), cont = z == std::string::npos ? "" : in.substr(z + 1);
  std::string whole = chat::Seam::stitch(opener, cont);
  if (whole.compare(0, opener.size(), opener) != 0) {
    std::fprintf(stderr, "fuzz-chat: the stitched text does not start with the opener\n");
    std::abort();
  }
  whole.erase(0, opener.size());
  chat::Seam s(opener);
  std::string streamed;
  size_t pos = 0, k = 0;
  while (pos < cont.size()) {
    size_t n = std::min(cont.size() - pos, readSize(split, k++));
    streamed += s.push(cont.substr(pos, n));
    pos += n;
  }
  streamed += s.finish();
  if (streamed != whole) {
    std::fprintf(stderr, "fuzz-chat: the streamed seam differs from the one-shot stitch\n");
    std::abort();
  }
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2)
    return 0;
  std::string rest(reinterpret_cast<const char *>(data) + 2, size - 2);
  switch (data[0] % 4) {
  case 0:
    sse(data[1], rest);
    break;
  case 1:
  case 2:
    request(data[1], rest, data[0] % 4 == 1);
    break;
  case 3:
    seam(data[1], rest);
    break;
  }
  return 0;
}
