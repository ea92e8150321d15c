//===- Handoff.h - continue an on-device opener with a larger model -*- C++ -*-===//
///
/// \file
/// The device shows an opener (mu/runtime/Opener.h) and asks an
/// OpenAI-compatible endpoint to continue it, streaming (SSE, libcurl). The
/// continuation is joined to the opener at the seam (Seam.h) and streamed on
/// as one text. Policies (docs/handoff.md):
/// - "fragment": the opener stops mid-sentence; the endpoint is told to
///   finish that sentence first and never repeat it;
/// - "sentence": the opener is a complete sentence; continue without
///   restating it;
/// - both allow a pivot: if the opener is wrong or unhelpful, one short
///   bridging clause, then the answer;
/// - "withheld": the opener was withheld (low confidence); a plain request.
/// /v1/chat/completions gets the conversation, the instruction as a system
/// message and the opener as a trailing assistant message (a prefill);
/// /v1/completions (base models) gets the raw text: prompt + opener.
/// If the endpoint cannot be reached, errors, is too slow to start, sends
/// malformed events or nothing at all, the device model continues locally
/// from everything already shown, and the result says so (`fallback`).
///
//===----------------------------------------------------------------------===//
#ifndef MU_CHAT_HANDOFF_H
#define MU_CHAT_HANDOFF_H

#include "mu/runtime/Chat.h"
#include "mu/runtime/Generate.h"
#include "mu/runtime/Opener.h"

#include <atomic>
#include <functional>
#include <string>
#include <vector>

namespace mu {
namespace chat {

enum class Api { Chat, Completions };

struct Endpoint {
  /// Server base ("http://host:port" or ".../v1"); the API path is appended
  /// unless the URL already ends in /completions.
  std::string url;
  Api api = Api::Chat;
  std::string model;  ///< "model" in the request ("" = left out)
  std::string apiKey; ///< sent as "Authorization: Bearer KEY" when set
  int maxTokens = 128;
  double temperature = 0.7;
  double connectTimeoutMs = 2000;
  double firstTokenTimeoutMs = 5000; ///< request sent -> first continuation text
  double totalTimeoutMs = 60000;
};

struct HandoffOptions {
  Endpoint endpoint;
  int localMaxTokens = 64;          ///< the local fallback's token cap
  rt::SamplingOptions localSampling; ///< the local fallback's sampling
  /// The reply after the opener, as it is shown (stitched; local fallback
  /// text included).
  std::function<void(const std::string &)> onText;
  const std::atomic<bool> *cancel = nullptr;
};

struct HandoffResult {
  std::string text;         ///< the whole reply: opener + continuation
  std::string continuation; ///< what followed the opener, as shown
  std::string policy;       ///< fragment, sentence or withheld
  std::string received;     ///< the endpoint's raw continuation
  bool fallback = false;    ///< the device model continued locally
  std::string fallbackReason;
  int httpStatus = 0;
  double firstByteMs = 0;  ///< request sent -> response headers
  double firstTokenMs = 0; ///< request sent -> first continuation text
  double totalMs = 0;      ///< request sent -> reply complete
  int overlapWords = 0;    ///< opener words the continuation repeated (removed)
  std::string removed, join;
};

/// The policy for `opener` and the JSON request body (for tests and docs).
std::string policyFor(const rt::OpenerResult &opener);
std::string requestBody(const Endpoint &endpoint, const std::vector<rt::ChatMessage> &conversation,
                        const std::string &renderedPrompt, const rt::OpenerResult &opener);

/// Continues `opener` (shown after `renderedPrompt`, the prompt as text)
/// through the endpoint; on failure continues with `gen` locally. Errors
/// only for what no fallback can mend (the local model failing).
rt::Status handoff(const HandoffOptions &options, const std::vector<rt::ChatMessage> &conversation,
                   const std::string &renderedPrompt, const rt::ChatTemplate &tmpl,
                   const rt::OpenerResult &opener, rt::Generator &gen, const rt::Tokenizer &tok,
                   const std::vector<int> &stopIds, HandoffResult &result);

} // namespace chat
} // namespace mu

#endif // MU_CHAT_HANDOFF_H
