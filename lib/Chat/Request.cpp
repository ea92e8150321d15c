//===- Request.cpp - OpenAI completion requests, parsed and checked -------===//
#include "mu/chat/Request.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>

namespace mu {
namespace chat {

using nlohmann::json;
using rt::Status;

std::string errorJson(const ApiError &e) {
  json err = {{"message", e.message}, {"type", e.type}};
  err["param"] = e.param.empty() ? json(nullptr) : json(e.param);
  err["code"] = e.code.empty() ? json(nullptr) : json(e.code);
  return json{{"error", err}}.dump(-1, ' ', false, json::error_handler_t::replace);
}

bool parseCompletionRequest(const std::string &body, bool chat, const RequestLimits &limits,
                            const rt::Tokenizer &tok, const rt::ChatTemplate &tmpl,
                            uint64_t defaultSeed, CompletionRequest &r, ApiError &e) {
  r = CompletionRequest();
  e = ApiError();
  const std::string &name = limits.model;
  const int maxCtx = limits.contextTokens;
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded()) {
    e.message = "the request body is not valid JSON";
    return false;
  }
  if (!j.is_object()) {
    e.message = "the request body must be a JSON object";
    return false;
  }
  auto bad = [&](const char *param, const std::string &msg) {
    e.param = param;
    e.message = msg;
    return false;
  };
  if (j.contains("model") && !j["model"].is_null()) {
    if (!j["model"].is_string())
      return bad("model", "'model' must be a string");
    std::string m = j["model"].get<std::string>();
    if (m != name) {
      e.status = 404;
      e.code = "model_not_found";
      e.param = "model";
      e.message = "the model '" + m + "' does not exist; this server has '" + name + "'";
      return false;
    }
  }
  r.chat = chat;
  r.maxTokens = chat ? std::min(256, limits.maxTokens) : std::min(16, limits.maxTokens);
  const char *maxKey = j.contains("max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
  if (j.contains(maxKey) && !j[maxKey].is_null()) {
    if (!j[maxKey].is_number_integer())
      return bad(maxKey, std::string("'") + maxKey + "' must be an integer");
    long long v = j[maxKey].get<long long>();
    if (v < 1 || v > limits.maxTokens)
      return bad(maxKey, std::string("'") + maxKey + "' must be between 1 and " +
                             std::to_string(limits.maxTokens) + ", got " + std::to_string(v));
    r.maxTokens = int(v);
  }
  auto number = [&](const char *key, double lo, double hi, bool loOpen, double &out) {
    if (!j.contains(key) || j[key].is_null())
      return true;
    if (!j[key].is_number())
      return bad(key, std::string("'") + key + "' must be a number");
    double v = j[key].get<double>();
    if (!(v <= hi) || (loOpen ? !(v > lo) : !(v >= lo)))
    {
      char range[64];
      std::snprintf(range, sizeof(range), "%s%g, %g]", loOpen ? "(" : "[", lo, hi);
      return bad(key, std::string("'") + key + "' must be in " + range + ", got " + j[key].dump());
    }
    out = v;
    return true;
  };
  double temperature = 1.0, topP = 1.0, zero = 0;
  if (!number("temperature", 0, 2, false, temperature) || !number("top_p", 0, 1, true, topP))
    return false;
  for (const char *k : {"presence_penalty", "frequency_penalty"}) {
    if (!number(k, -2, 2, false, zero))
      return false;
    if (zero != 0)
      return bad(k, std::string("'") + k + "' is not supported (only 0)");
  }
  r.sampling.temperature = float(temperature);
  r.sampling.topP = float(topP);
  r.sampling.greedy = temperature == 0;
  if (j.contains("top_k") && !j["top_k"].is_null()) {
    if (!j["top_k"].is_number_integer() || j["top_k"].get<long long>() < 0)
      return bad("top_k", "'top_k' must be an integer >= 0");
    r.sampling.topK = int(std::min<long long>(j["top_k"].get<long long>(), 1 << 30));
  }
  r.sampling.seed = defaultSeed;
  if (j.contains("seed") && !j["seed"].is_null()) {
    if (!j["seed"].is_number_integer())
      return bad("seed", "'seed' must be an integer");
    r.sampling.seed = uint64_t(j["seed"].get<long long>());
  }
  if (j.contains("n") && !j["n"].is_null() && (!j["n"].is_number_integer() || j["n"].get<long long>() != 1))
    return bad("n", "'n' must be 1 (one choice per request)");
  if (j.contains("stream") && !j["stream"].is_null()) {
    if (!j["stream"].is_boolean())
      return bad("stream", "'stream' must be true or false");
    r.stream = j["stream"].get<bool>();
  }
  if (j.contains("logprobs") && !j["logprobs"].is_null() &&
      !(j["logprobs"].is_boolean() && !j["logprobs"].get<bool>()))
    return bad("logprobs", "'logprobs' is not supported");
  if (j.contains("echo") && j["echo"].is_boolean() && j["echo"].get<bool>())
    return bad("echo", "'echo' is not supported");
  if (j.contains("stop") && !j["stop"].is_null()) {
    const json &s = j["stop"];
    if (s.is_string()) {
      r.stop.push_back(s.get<std::string>());
    } else if (s.is_array() && s.size() <= 4) {
      for (const json &x : s) {
        if (!x.is_string())
          return bad("stop", "'stop' must be a string or up to 4 strings");
        r.stop.push_back(x.get<std::string>());
      }
    } else {
      return bad("stop", "'stop' must be a string or up to 4 strings");
    }
    for (const std::string &x : r.stop)
      if (x.empty())
        return bad("stop", "'stop' strings must not be empty");
  }

  if (chat) {
    if (!j.contains("messages") || !j["messages"].is_array() || j["messages"].empty())
      return bad("messages", "'messages' must be a non-empty array");
    std::vector<rt::ChatMessage> msgs;
    size_t i = 0;
    for (const json &m : j["messages"]) {
      std::string where = "messages[" + std::to_string(i++) + "]";
      if (!m.is_object() || !m.contains("role") || !m["role"].is_string())
        return bad("messages", where + " must be an object with a string 'role'");
      rt::ChatMessage cm{m["role"].get<std::string>(), ""};
      const json &c = m.contains("content") ? m["content"] : json(nullptr);
      if (c.is_string()) {
        cm.content = c.get<std::string>();
      } else if (c.is_array()) {
        for (const json &part : c) {
          if (!part.is_object() || !part.contains("type") || part["type"] != "text" ||
              !part.contains("text") || !part["text"].is_string())
            return bad("messages", where + ".content: only text parts are supported");
          cm.content += part["text"].get<std::string>();
        }
      } else {
        return bad("messages", where + ".content must be a string or an array of text parts");
      }
      msgs.push_back(std::move(cm));
    }
    // A trailing assistant message is a prefix the reply continues.
    std::string prefill;
    bool continueLast = msgs.back().role == "assistant";
    if (continueLast) {
      prefill = msgs.back().content;
      msgs.pop_back();
      if (msgs.empty())
        return bad("messages", "an assistant message to continue needs a user message before it");
    }
    std::string text;
    Status st = tmpl.render(msgs, text);
    if (!st.ok)
      return bad("messages", st.message);
    if (continueLast)
      text += (tmpl.style() == rt::ChatTemplate::Style::Llama2 ? " " : "") + prefill;
    r.ids = tok.encode(text, tmpl.addBos());
  } else {
    if (!j.contains("prompt"))
      return bad("prompt", "'prompt' is required");
    const json &p = j["prompt"];
    std::string text;
    if (p.is_string())
      text = p.get<std::string>();
    else if (p.is_array() && p.size() == 1 && p[0].is_string())
      text = p[0].get<std::string>();
    else
      return bad("prompt", "'prompt' must be a string (or an array of one string)");
    r.ids = tok.encode(text, true);
  }
  if (r.ids.empty())
    return bad(chat ? "messages" : "prompt", "the prompt is empty");
  int limit = limits.maxPromptTokens > 0 ? limits.maxPromptTokens : maxCtx - r.maxTokens;
  if (int(r.ids.size()) > limit || int(r.ids.size()) + r.maxTokens > maxCtx) {
    e.code = "context_length_exceeded";
    return bad(chat ? "messages" : "prompt",
               "the prompt is " + std::to_string(r.ids.size()) + " tokens; with max_tokens " +
                   std::to_string(r.maxTokens) + " this model takes at most " +
                   std::to_string(std::max(0, std::min(limit, maxCtx - r.maxTokens))) +
                   " prompt tokens (its context is " + std::to_string(maxCtx) + ")");
  }
  return true;
}

} // namespace chat
} // namespace mu
