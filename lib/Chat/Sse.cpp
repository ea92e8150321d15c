//===- Sse.cpp - server-sent events and OpenAI streaming chunks -----------===//
#include "mu/chat/Sse.h"

#include <nlohmann/json.hpp>

namespace mu {
namespace chat {

using nlohmann::json;

bool SseReader::endOfLine(const EventFn &onEvent) {
  if (!line_.empty() && line_.back() == '\r')
    line_.pop_back();
  bool ok = true;
  if (line_.empty()) { // end of an event
    if (hasData_ && !data_.empty())
      ok = onEvent(data_);
    data_.clear();
    hasData_ = false;
  } else if (line_.compare(0, 4, "data") == 0 && (line_.size() == 4 || line_[4] == ':')) {
    std::string d = line_.size() > 5 && line_[5] == ' ' ? line_.substr(6)
                    : line_.size() > 5                  ? line_.substr(5)
                                                        : std::string();
    if (hasData_)
      data_ += '\n';
    data_ += d;
    hasData_ = true;
    if (data_.size() > maxEventBytes_) {
      error_ = "an event from the endpoint is too large";
      ok = false;
    }
  } // ":" comments, event:, id:, retry: and unknown fields are ignored
  line_.clear();
  return ok;
}

bool SseReader::feed(const char *p, size_t n, const EventFn &onEvent) {
  for (size_t i = 0; i < n; ++i) {
    if (p[i] != '\n') {
      line_ += p[i];
      if (line_.size() > maxEventBytes_) {
        error_ = "an event from the endpoint is too large";
        return false;
      }
      continue;
    }
    if (!endOfLine(onEvent))
      return false;
  }
  return true;
}

bool SseReader::finish(const EventFn &onEvent) {
  if (!line_.empty() && !endOfLine(onEvent))
    return false;
  line_.clear();
  return endOfLine(onEvent); // the blank line the server left out
}

bool parseCompletionChunk(const std::string &payload, CompletionChunk &chunk) {
  chunk = CompletionChunk();
  if (payload == "[DONE]") {
    chunk.done = true;
    return true;
  }
  json j = json::parse(payload, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    chunk.error = "malformed event from the endpoint (not JSON): " + payload.substr(0, 80);
    return false;
  }
  if (j.contains("error")) {
    const json &e = j["error"];
    chunk.error = "the endpoint sent an error: " +
                  (e.is_object() && e.contains("message") && e["message"].is_string()
                       ? e["message"].get<std::string>()
                       : e.dump(-1, ' ', false, json::error_handler_t::replace));
    return false;
  }
  if (!j.contains("choices") || !j["choices"].is_array()) {
    chunk.error = "malformed event from the endpoint (no choices): " + payload.substr(0, 80);
    return false;
  }
  if (j["choices"].empty())
    return true; // e.g. a usage-only chunk
  const json &c = j["choices"][0];
  if (!c.is_object()) {
    chunk.error = "malformed event from the endpoint (choice is not an object)";
    return false;
  }
  const json *t = nullptr;
  if (c.contains("delta") && c["delta"].is_object() && c["delta"].contains("content"))
    t = &c["delta"]["content"];
  else if (c.contains("message") && c["message"].is_object() && c["message"].contains("content"))
    t = &c["message"]["content"];
  else if (c.contains("text"))
    t = &c["text"];
  if (t && t->is_string()) {
    chunk.text = t->get<std::string>();
  } else if (t && !t->is_null()) {
    chunk.error = "malformed event from the endpoint (content is not a string)";
    return false;
  }
  return true;
}

} // namespace chat
} // namespace mu
