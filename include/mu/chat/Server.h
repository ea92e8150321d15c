//===- Server.h - an OpenAI-compatible HTTP server over libmu_runtime -*- C++ -*-===//
///
/// \file
/// `mu-serve` serves one compiled decoder-only artifact over HTTP with the
/// OpenAI API subset small-model clients use: GET /health, GET /v1/models,
/// POST /v1/completions and POST /v1/chat/completions, each streamed as
/// server-sent events when `"stream": true`. A chat conversation that ends
/// with an assistant message continues that message (the assistant prefill
/// a handoff sends). Bad requests get a 4xx with an OpenAI-style JSON error
/// naming the parameter; the server never crashes on input (docs/handoff.md).
///
//===----------------------------------------------------------------------===//
#ifndef MU_CHAT_SERVER_H
#define MU_CHAT_SERVER_H

#include "mu/runtime/Runtime.h"

#include <memory>
#include <string>

namespace mu {
namespace chat {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;          ///< 0 = any free port (see Server::port)
  std::string modelName;    ///< the id clients name; "" = the artifact's file stem
  std::string chatTemplate; ///< chatml, llama2 or plain; "" = the artifact's
  int parallel = 1;         ///< generations at once (one session each)
  int threadsPerSession = 0;
  int httpThreads = 8;      ///< connections handled at once (others queue)
  int maxTokens = 512;      ///< ceiling on a request's max_tokens
  int maxPromptTokens = 0;  ///< 0 = what the KV cache leaves after max_tokens
  size_t maxBodyBytes = 1 << 20;
  bool log = false;         ///< one line per request on stderr
};

class Server {
public:
  /// Prepares a server for `model` (which must outlive it): checks the
  /// artifact (decoder-only, tokenizer, chat template) and binds the port.
  static std::unique_ptr<Server> create(const rt::Model &model, const ServerOptions &options,
                                        rt::Status &status);
  ~Server();
  /// The bound port.
  int port() const;
  /// Serves until stop() (from another thread or a signal handler's thread).
  rt::Status run();
  void stop();

private:
  struct Impl;
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

} // namespace chat
} // namespace mu

#endif // MU_CHAT_SERVER_H
