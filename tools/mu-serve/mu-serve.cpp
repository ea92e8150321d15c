//===- mu-serve.cpp - an OpenAI-compatible server for a .mub artifact ------===//
//
// Thin: the server lives in lib/Chat (mu/chat/Server.h).
//
//===----------------------------------------------------------------------===//
#include "mu/chat/Server.h"
#include "mu/runtime/Runtime.h"

#include <CLI/CLI.hpp>

#include <csignal>
#include <pthread.h>
#include <cstdio>
#include <thread>


int main(int argc, char **argv) {
  CLI::App app{"mu-serve: serve a compiled decoder-only .mub model over HTTP with the OpenAI "
               "API (/v1/completions, /v1/chat/completions, /v1/models, /health)"};
  std::string path, portFile;
  mu::chat::ServerOptions o;
  app.add_option("model", path, "compiled artifact (.mub)")->required();
  app.add_option("--host", o.host, "address to listen on (default 127.0.0.1)");
  app.add_option("--port", o.port, "port (default 8080; 0 = any free port, printed)");
  app.add_option("--port-file", portFile, "write the bound port to FILE once listening");
  app.add_option("--model-name", o.modelName, "model id clients use (default: the file stem)");
  app.add_option("--chat-template", o.chatTemplate,
                 "chatml, llama2 or plain instead of the artifact's template");
  app.add_option("--parallel", o.parallel, "generations at once, one session each (default 1)");
  app.add_option("--threads", o.threadsPerSession, "kernel threads per session (default: cores)");
  app.add_option("--http-threads", o.httpThreads, "connections served at once (default 8)");
  app.add_option("--max-tokens", o.maxTokens, "ceiling on a request's max_tokens (default 512)");
  app.add_option("--max-prompt-tokens", o.maxPromptTokens,
                 "longest prompt accepted (default: the KV cache minus max_tokens)");
  app.add_option("--max-body", o.maxBodyBytes, "largest request body in bytes (default 1 MiB)");
  app.add_flag("--log", o.log, "one line per request on stderr");
  CLI11_PARSE(app, argc, argv);

  // SIGINT/SIGTERM stop the server from a thread of our own (sigwait), not
  // from a signal handler: every thread started later inherits the mask.
  sigset_t stopSignals;
  sigemptyset(&stopSignals);
  sigaddset(&stopSignals, SIGINT);
  sigaddset(&stopSignals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stopSignals, nullptr);

  mu::rt::Status st;
  std::unique_ptr<mu::rt::Model> model = mu::rt::Model::load(path, st);
  if (!model) {
    std::fprintf(stderr, "mu-serve: error: %s\n", st.message.c_str());
    return 1;
  }
  std::unique_ptr<mu::chat::Server> server = mu::chat::Server::create(*model, o, st);
  if (!server) {
    std::fprintf(stderr, "mu-serve: error: %s\n", st.message.c_str());
    return 1;
  }
  mu::chat::Server *srv = server.get();
  std::thread([srv, stopSignals] {
    int sig = 0;
    sigwait(&stopSignals, &sig);
    srv->stop();
  }).detach();
  std::fprintf(stderr, "mu-serve: %s on http://%s:%d\n", path.c_str(), o.host.c_str(), server->port());
  if (!portFile.empty()) {
    // Written whole, then renamed: a reader never sees a partial number.
    std::string tmp = portFile + ".tmp";
    FILE *f = std::fopen(tmp.c_str(), "w");
    if (!f || std::fprintf(f, "%d\n", server->port()) < 0 || std::fclose(f) != 0 ||
        std::rename(tmp.c_str(), portFile.c_str()) != 0) {
      std::fprintf(stderr, "mu-serve: error: cannot write %s\n", portFile.c_str());
      return 1;
    }
  }
  st = server->run();
  if (!st.ok) {
    std::fprintf(stderr, "mu-serve: error: %s\n", st.message.c_str());
    return 1;
  }
  return 0;
}
