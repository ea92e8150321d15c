//===- Request.h - OpenAI completion requests, parsed and checked -*- C++ -*-===//
///
/// \file
/// What mu-serve accepts on /v1/completions and /v1/chat/completions, apart
/// from HTTP so it can be tested and fuzzed on bytes: the body is parsed,
/// every parameter checked against the server's limits, the conversation
/// rendered with the chat template and tokenized. A refusal is an ApiError:
/// the HTTP status and the OpenAI-style error object naming the parameter.
///
//===----------------------------------------------------------------------===//
#ifndef MU_CHAT_REQUEST_H
#define MU_CHAT_REQUEST_H

#include "mu/runtime/Chat.h"
#include "mu/runtime/Generate.h"
#include "mu/runtime/Tokenizer.h"

#include <cstdint>
#include <string>
#include <vector>

namespace mu {
namespace chat {

/// A request the server refuses.
struct ApiError {
  int status = 400;
  std::string message, type = "invalid_request_error", param, code;
};

/// {"error": {"message", "type", "param", "code"}} as JSON text.
std::string errorJson(const ApiError &e);

/// What the server allows and knows.
struct RequestLimits {
  std::string model;       ///< the one model id served
  int maxTokens = 512;     ///< ceiling on max_tokens
  int maxPromptTokens = 0; ///< 0 = what the context leaves after max_tokens
  int contextTokens = 0;   ///< the model's KV-cache length
};

/// A request, validated.
struct CompletionRequest {
  std::vector<int> ids; ///< the prompt, tokenized
  int maxTokens = 16;
  rt::SamplingOptions sampling;
  std::vector<std::string> stop;
  bool stream = false;
  bool chat = false;
};

/// Parses `body` for /v1/chat/completions (`chat`) or /v1/completions. A
/// chat conversation ending in an assistant message continues that message.
/// `defaultSeed` seeds sampling when the request has no "seed".
bool parseCompletionRequest(const std::string &body, bool chat, const RequestLimits &limits,
                            const rt::Tokenizer &tok, const rt::ChatTemplate &tmpl,
                            uint64_t defaultSeed, CompletionRequest &request, ApiError &error);

} // namespace chat
} // namespace mu

#endif // MU_CHAT_REQUEST_H
