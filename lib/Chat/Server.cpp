//===- Server.cpp - an OpenAI-compatible HTTP server over libmu_runtime ----===//
#include "mu/chat/Server.h"

#include "mu/chat/Request.h"

#include "mu/runtime/Chat.h"
#include "mu/runtime/Generate.h"
#include "mu/runtime/Opener.h"
#include "mu/runtime/Tokenizer.h"
#include "mub_generated.h"

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace mu {
namespace chat {

using nlohmann::json;
using rt::Status;

namespace {

json errorBody(const ApiError &e) { return json::parse(errorJson(e)); }

void sendError(httplib::Response &res, const ApiError &e) {
  res.status = e.status;
  res.set_content(errorJson(e), "application/json");
}

/// One generation slot: a session, its generator, busy or not.
struct Slot {
  Slot(const rt::Model &m, const rt::SessionOptions &o) : session(m, o), gen(m, session) {}
  rt::Session session;
  rt::Generator gen;
};

/// Holds back text that may be the start of a stop string.
size_t safePrefix(const std::string &text, const std::vector<std::string> &stops) {
  size_t keep = text.size();
  for (const std::string &s : stops)
    for (size_t n = std::min(s.size() - 1, text.size()); n > 0; --n)
      if (text.compare(text.size() - n, n, s, 0, n) == 0) {
        keep = std::min(keep, text.size() - n);
        break;
      }
  return keep;
}

} // namespace

struct Server::Impl {
  const rt::Model &model;
  ServerOptions opts;
  rt::Tokenizer tok;
  rt::ChatTemplate tmpl;
  std::vector<int> stopIds;
  std::string name;
  int maxCtx = 0;
  httplib::Server http;
  int port = 0;
  std::vector<std::unique_ptr<Slot>> slots;
  std::vector<bool> busy;
  std::mutex mu;
  std::condition_variable freed;
  std::atomic<uint64_t> counter{0};

  Impl(const rt::Model &m, const ServerOptions &o) : model(m), opts(o) {}

  Slot *acquire(size_t &index) {
    std::unique_lock<std::mutex> lock(mu);
    freed.wait(lock, [&] { return std::find(busy.begin(), busy.end(), false) != busy.end(); });
    index = size_t(std::find(busy.begin(), busy.end(), false) - busy.begin());
    busy[index] = true;
    return slots[index].get();
  }
  void release(size_t index) {
    {
      std::lock_guard<std::mutex> lock(mu);
      busy[index] = false;
    }
    freed.notify_one();
  }

  void handle(const httplib::Request &req, httplib::Response &res, bool chat);
};

void Server::Impl::handle(const httplib::Request &req, httplib::Response &res, bool chat) {
  auto r = std::make_shared<CompletionRequest>();
  ApiError e;
  RequestLimits limits{name, opts.maxTokens, opts.maxPromptTokens, maxCtx};
  if (!parseCompletionRequest(req.body, chat, limits, tok, tmpl, counter++, *r, e))
    return sendError(res, e);
  const uint64_t id = counter++;
  const std::string rid = (chat ? "chatcmpl-" : "cmpl-") + std::to_string(id);
  const long long created = (long long)std::time(nullptr);
  const std::string object = chat ? (r->stream ? "chat.completion.chunk" : "chat.completion")
                                  : "text_completion";
  auto chunk = [=](const std::string &text, const char *finish, bool first) {
    json choice = {{"index", 0}};
    if (chat) {
      json delta = json::object();
      if (first)
        delta["role"] = "assistant";
      if (!text.empty() || !finish)
        delta["content"] = text;
      choice["delta"] = delta;
    } else {
      choice["text"] = text;
      choice["logprobs"] = nullptr;
    }
    choice["finish_reason"] = finish ? json(finish) : json(nullptr);
    return json{{"id", rid}, {"object", object}, {"created", created}, {"model", name},
                {"choices", json::array({choice})}};
  };
  // Generates into `emit` (false from emit = the client left); returns the
  // finish reason and counts.
  auto generate = [this, r](const std::function<bool(const std::string &)> &emit, int &produced,
                            Status &st) -> const char * {
    size_t slotIndex;
    Slot *slot = acquire(slotIndex);
    struct Release {
      Impl *impl;
      size_t i;
      ~Release() { impl->release(i); }
    } release{this, slotIndex};
    produced = 0;
    st = slot->gen.begin(r->ids);
    if (!st.ok)
      return "error";
    rt::Sampler sampler(r->sampling);
    rt::TextStream stream(tok, false); // a continuation keeps its leading space
    std::string text;   // generated text not yet emitted
    for (; produced < r->maxTokens; ++produced) {
      const std::vector<float> &lg = slot->gen.nextLogits();
      int next = sampler.sample(lg.data(), int(lg.size()));
      if (std::find(stopIds.begin(), stopIds.end(), next) != stopIds.end()) {
        text += stream.flush();
        if (!text.empty())
          emit(text);
        return "stop";
      }
      text += stream.push(next);
      for (const std::string &s : r->stop) {
        size_t at = text.find(s);
        if (at != std::string::npos) {
          text.resize(at);
          if (!text.empty())
            emit(text);
          ++produced;
          return "stop";
        }
      }
      size_t safe = safePrefix(text, r->stop);
      if (safe > 0) {
        if (!emit(text.substr(0, safe)))
          return "cancelled";
        text.erase(0, safe);
      }
      if (produced + 1 < r->maxTokens) {
        st = slot->gen.push(next);
        if (!st.ok)
          return "error";
      }
    }
    text += stream.flush();
    if (!text.empty())
      emit(text);
    return "length";
  };
  const int promptTokens = int(r->ids.size());
  if (!r->stream) {
    std::string all;
    int produced = 0;
    Status st;
    const char *finish = generate([&](const std::string &t) { all += t; return true; }, produced, st);
    if (!st.ok) {
      ApiError ie{500, st.message, "server_error", "", ""};
      return sendError(res, ie);
    }
    json choice = {{"index", 0}, {"finish_reason", finish}};
    if (chat)
      choice["message"] = {{"role", "assistant"}, {"content", all}};
    else {
      choice["text"] = all;
      choice["logprobs"] = nullptr;
    }
    json out = {{"id", rid}, {"object", object}, {"created", created}, {"model", name},
                {"choices", json::array({choice})},
                {"usage", {{"prompt_tokens", promptTokens}, {"completion_tokens", produced},
                           {"total_tokens", promptTokens + produced}}}};
    res.set_content(out.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
    return;
  }
  res.set_header("Cache-Control", "no-cache");
  res.set_chunked_content_provider(
      "text/event-stream", [this, generate, chunk, promptTokens](size_t, httplib::DataSink &sink) {
        auto send = [&](const json &j) {
          std::string line = "data: " + j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n\n";
          return sink.write(line.data(), line.size());
        };
        bool first = true;
        int produced = 0;
        Status st;
        const char *finish = generate(
            [&](const std::string &t) {
              bool ok = send(chunk(t, nullptr, first));
              first = false;
              return ok;
            },
            produced, st);
        if (!st.ok) {
          send(errorBody({500, st.message, "server_error", "", ""}));
        } else if (std::string(finish) != "cancelled") {
          json last = chunk("", finish, first);
          last["usage"] = {{"prompt_tokens", promptTokens}, {"completion_tokens", produced},
                           {"total_tokens", promptTokens + produced}};
          send(last);
          static const char done[] = "data: [DONE]\n\n";
          sink.write(done, sizeof(done) - 1);
        }
        sink.done();
        return true;
      });
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() = default;
int Server::port() const { return impl_->port; }
void Server::stop() { impl_->http.stop(); }

std::unique_ptr<Server> Server::create(const rt::Model &model, const ServerOptions &o,
                                       Status &status) {
  auto impl = std::make_unique<Impl>(model, o);
  Impl &s = *impl;
  if (model.program("encode") || !model.program("prefill") || !model.program("decode")) {
    status = Status::error(model.path() + ": mu-serve needs a decoder-only artifact with a KV "
                                          "cache (prefill and decode programs)");
    return nullptr;
  }
  status = s.tok.init(model.fb().tokenizer());
  if (!status.ok) {
    status.message = model.path() + ": " + status.message;
    return nullptr;
  }
  status = o.chatTemplate.empty() ? rt::ChatTemplate::fromTokenizer(s.tok, s.tmpl)
                                  : rt::ChatTemplate::byName(o.chatTemplate, s.tmpl);
  if (!status.ok) {
    status.message = model.path() + ": " + status.message;
    return nullptr;
  }
  s.stopIds = s.tok.eosIds();
  for (int id : s.tmpl.stopIds(s.tok))
    if (std::find(s.stopIds.begin(), s.stopIds.end(), id) == s.stopIds.end())
      s.stopIds.push_back(id);
  s.maxCtx = model.fb().max_ctx();
  if (o.parallel < 1 || o.httpThreads < 1 || o.maxTokens < 1) {
    status = Status::error("parallel, http threads and max tokens must be >= 1");
    return nullptr;
  }
  s.name = o.modelName;
  if (s.name.empty()) {
    std::string p = model.path();
    size_t slash = p.find_last_of('/');
    s.name = slash == std::string::npos ? p : p.substr(slash + 1);
    size_t dot = s.name.rfind('.');
    if (dot != std::string::npos && dot > 0)
      s.name.resize(dot);
  }
  rt::SessionOptions so;
  so.threads = o.threadsPerSession;
  for (int i = 0; i < o.parallel; ++i) {
    s.slots.push_back(std::make_unique<Slot>(model, so));
    s.busy.push_back(false);
  }

  httplib::Server &h = s.http;
  h.set_payload_max_length(o.maxBodyBytes);
  int threads = o.httpThreads;
  h.new_task_queue = [threads] { return new httplib::ThreadPool(size_t(threads)); };
  h.Get("/health", [&s](const httplib::Request &, httplib::Response &res) {
    res.set_content(json{{"status", "ok"}, {"model", s.name}}.dump(), "application/json");
  });
  h.Get("/v1/models", [&s](const httplib::Request &, httplib::Response &res) {
    json m = {{"id", s.name}, {"object", "model"}, {"created", 0}, {"owned_by", "mu"},
              {"max_context", s.maxCtx}};
    res.set_content(json{{"object", "list"}, {"data", json::array({m})}}.dump(), "application/json");
  });
  h.Post("/v1/completions", [&s](const httplib::Request &req, httplib::Response &res) {
    s.handle(req, res, false);
  });
  h.Post("/v1/chat/completions", [&s](const httplib::Request &req, httplib::Response &res) {
    s.handle(req, res, true);
  });
  h.set_error_handler([](const httplib::Request &req, httplib::Response &res) {
    if (!res.body.empty())
      return;
    ApiError e;
    e.status = res.status;
    if (res.status == 404)
      e.message = "no such endpoint: " + req.method + " " + req.path +
                  " (GET /health, GET /v1/models, POST /v1/completions, POST /v1/chat/completions)";
    else if (res.status == 413)
      e.message = "the request body is too large";
    else
      e.message = "HTTP " + std::to_string(res.status) + " for " + req.method + " " + req.path;
    res.set_content(errorJson(e), "application/json");
  });
  h.set_exception_handler([](const httplib::Request &, httplib::Response &res, std::exception_ptr ep) {
    std::string what = "internal error";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception &ex) {
      what = ex.what();
    } catch (...) {
    }
    sendError(res, {500, what, "server_error", "", ""});
  });
  if (o.log)
    h.set_logger([](const httplib::Request &req, const httplib::Response &res) {
      std::fprintf(stderr, "mu-serve: %s %s -> %d\n", req.method.c_str(), req.path.c_str(), res.status);
    });
  if (o.port == 0) {
    s.port = h.bind_to_any_port(o.host);
  } else {
    s.port = h.bind_to_port(o.host, o.port) ? o.port : -1;
  }
  if (s.port <= 0) {
    status = Status::error("cannot listen on " + o.host + ":" + std::to_string(o.port) +
                           " (address in use, or not an address of this machine)");
    return nullptr;
  }
  status = Status::success();
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Status Server::run() {
  if (!impl_->http.listen_after_bind())
    return Status::error("the server stopped with an error");
  return Status::success();
}

} // namespace chat
} // namespace mu
