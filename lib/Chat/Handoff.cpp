//===- Handoff.cpp - continue an on-device opener with a larger model ------===//
#include "mu/chat/Handoff.h"

#include "mu/chat/Seam.h"
#include "mu/chat/Sse.h"

#include <curl/curl.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <mutex>

namespace mu {
namespace chat {

using nlohmann::json;
using rt::Status;
using Clock = std::chrono::steady_clock;

namespace {
bool endsSentence(const std::string &text) {
  size_t n = text.find_last_not_of(" \t\r\n\"')]");
  return n != std::string::npos && (text[n] == '.' || text[n] == '!' || text[n] == '?');
}

std::string instruction(const std::string &policy, const std::string &opener) {
  std::string shown = "The beginning of your reply has already been shown to the user: \"" +
                      opener + "\". ";
  std::string pivot = " If that beginning is wrong or unhelpful, do not repeat or ignore it: "
                      "continue with one short bridging clause that corrects course (for "
                      "example \"- actually, ...\"), then answer.";
  if (policy == "fragment")
    return shown + "It stops mid-sentence. Continue from exactly where it stops: finish that "
                   "sentence first, and never repeat any of it." + pivot;
  return shown + "It is a complete sentence. Continue with what comes next, without restating "
                 "it." + pivot;
}

std::string apiUrl(const Endpoint &e) {
  std::string u = e.url;
  while (!u.empty() && u.back() == '/')
    u.pop_back();
  if (u.size() >= 12 && u.compare(u.size() - 12, 12, "/completions") == 0)
    return u;
  if (u.size() < 3 || u.compare(u.size() - 3, 3, "/v1") != 0)
    u += "/v1";
  return u + (e.api == Api::Chat ? "/chat/completions" : "/completions");
}

/// One streamed request: SSE parsing, deadlines, what arrived.
struct Transfer {
  const Endpoint &ep;
  const std::atomic<bool> *cancel;
  std::function<void(const std::string &)> onPiece;
  Clock::time_point t0 = Clock::now();
  SseReader reader;
  std::string body; ///< a non-SSE body
  bool sse = false, headersSeen = false, done = false, gotText = false;
  long status = 0;
  std::string error; ///< why it failed ("" = fine so far)
  double firstByteMs = 0, firstTokenMs = 0;

  double ms() const { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

  void text(const std::string &t) {
    if (t.empty())
      return;
    if (!gotText)
      firstTokenMs = ms();
    gotText = true;
    onPiece(t);
  }
  /// Pulls the continuation text out of a chunk (or a whole response).
  bool event(const std::string &payload) {
    CompletionChunk c;
    if (!parseCompletionChunk(payload, c)) {
      error = c.error;
      return false;
    }
    done = done || c.done;
    text(c.text);
    return true;
  }
  bool feed(const char *p, size_t n) {
    if (!headersSeen) {
      headersSeen = true;
      firstByteMs = ms();
    }
    if (status != 200 || !sse) {
      body.append(p, n);
      if (body.size() > (1 << 20)) {
        error = "the endpoint's response is too large";
        return false;
      }
      return true;
    }
    if (!reader.feed(p, n, [&](const std::string &d) { return event(d); })) {
      if (error.empty())
        error = reader.error();
      return false;
    }
    return true;
  }
  /// The body ended.
  void finish() {
    if (!reader.finish([&](const std::string &d) { return event(d); }) && error.empty())
      error = reader.error();
  }
};

size_t onHeader(char *p, size_t size, size_t n, void *user) {
  Transfer &t = *static_cast<Transfer *>(user);
  std::string h(p, size * n);
  if (h.compare(0, 5, "HTTP/") == 0) {
    size_t sp = h.find(' ');
    t.status = sp == std::string::npos ? 0 : std::atol(h.c_str() + sp + 1);
    t.sse = false;
  }
  std::string lower = h;
  std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
  if (lower.compare(0, 13, "content-type:") == 0 && lower.find("text/event-stream") != std::string::npos)
    t.sse = true;
  return size * n;
}

size_t onBody(char *p, size_t size, size_t n, void *user) {
  Transfer &t = *static_cast<Transfer *>(user);
  return t.feed(p, size * n) ? size * n : 0;
}

int onProgress(void *user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  Transfer &t = *static_cast<Transfer *>(user);
  if (t.cancel && t.cancel->load()) {
    t.error = "cancelled";
    return 1;
  }
  if (!t.gotText && t.ep.firstTokenTimeoutMs > 0 && t.ms() > t.ep.firstTokenTimeoutMs) {
    t.error = "no continuation within " + std::to_string(int(t.ep.firstTokenTimeoutMs)) + " ms";
    return 1;
  }
  return 0;
}

std::once_flag curlInit;
} // namespace

std::string policyFor(const rt::OpenerResult &opener) {
  if (opener.text.empty())
    return "withheld";
  return endsSentence(opener.text) ? "sentence" : "fragment";
}

std::string requestBody(const Endpoint &e, const std::vector<rt::ChatMessage> &conversation,
                        const std::string &renderedPrompt, const rt::OpenerResult &opener) {
  std::string policy = policyFor(opener);
  json j = json::object();
  if (!e.model.empty())
    j["model"] = e.model;
  j["stream"] = true;
  j["max_tokens"] = e.maxTokens;
  j["temperature"] = e.temperature;
  if (e.api == Api::Completions) {
    j["prompt"] = renderedPrompt + (opener.text.empty() ? "" : opener.lead + opener.text);
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
  }
  json msgs = json::array();
  size_t first = 0;
  std::string system;
  if (!conversation.empty() && conversation[0].role == "system") {
    system = conversation[0].content;
    first = 1;
  }
  if (policy != "withheld")
    system += (system.empty() ? "" : "\n\n") + instruction(policy, opener.text);
  if (!system.empty())
    msgs.push_back({{"role", "system"}, {"content", system}});
  for (size_t i = first; i < conversation.size(); ++i)
    msgs.push_back({{"role", conversation[i].role}, {"content", conversation[i].content}});
  if (policy != "withheld")
    msgs.push_back({{"role", "assistant"}, {"content", opener.text}});
  j["messages"] = msgs;
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

Status handoff(const HandoffOptions &o, const std::vector<rt::ChatMessage> &conversation,
               const std::string &renderedPrompt, const rt::ChatTemplate &tmpl,
               const rt::OpenerResult &opener, rt::Generator &gen, const rt::Tokenizer &tok,
               const std::vector<int> &stopIds, HandoffResult &r) {
  r = HandoffResult();
  r.policy = policyFor(opener);
  r.text = opener.text;
  Seam seam(opener.text);
  auto show = [&](const std::string &s) {
    if (s.empty())
      return;
    r.continuation += s;
    r.text += s;
    if (o.onText)
      o.onText(s);
  };
  Transfer t{o.endpoint, o.cancel, [&](const std::string &piece) {
               r.received += piece;
               show(seam.push(piece));
             }};
  std::call_once(curlInit, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  CURL *c = curl_easy_init();
  std::string body = requestBody(o.endpoint, conversation, renderedPrompt, opener);
  std::string url = apiUrl(o.endpoint);
  curl_slist *headers = nullptr;
  headers = curl_slist_append(headers, "Content-Type: application/json");
  headers = curl_slist_append(headers, "Accept: text/event-stream");
  std::string auth;
  if (!o.endpoint.apiKey.empty()) {
    auth = "Authorization: Bearer " + o.endpoint.apiKey;
    headers = curl_slist_append(headers, auth.c_str());
  }
  CURLcode rc = CURLE_FAILED_INIT;
  char curlError[CURL_ERROR_SIZE] = {0};
  if (c) {
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, long(body.size()));
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, long(o.endpoint.connectTimeoutMs));
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, long(o.endpoint.totalTimeoutMs));
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, onHeader);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, onBody);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, onProgress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, &t);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curlError);
    rc = curl_easy_perform(c);
    curl_easy_cleanup(c);
  }
  curl_slist_free_all(headers);
  r.httpStatus = int(t.status);
  r.firstByteMs = t.firstByteMs;
  if (t.error.empty()) {
    if (rc != CURLE_OK) {
      t.error = std::string("the endpoint is unreachable or failed: ") +
                (curlError[0] ? curlError : curl_easy_strerror(rc));
    } else if (t.status != 200) {
      json j = json::parse(t.body, nullptr, false);
      std::string msg = !j.is_discarded() && j.is_object() && j.contains("error") &&
                                j["error"].is_object() && j["error"].contains("message") &&
                                j["error"]["message"].is_string()
                            ? j["error"]["message"].get<std::string>()
                            : t.body.substr(0, 120);
      t.error = "the endpoint answered HTTP " + std::to_string(t.status) + ": " + msg;
    } else if (!t.sse) {
      t.event(t.body); // a server that ignored "stream": one JSON response
    } else {
      t.finish();
    }
  }
  // What the seam still holds was received: show it before anything else.
  show(seam.finish());
  r.overlapWords = seam.overlapWords();
  r.removed = seam.removed();
  r.join = seam.join();
  r.firstTokenMs = t.firstTokenMs;
  if (t.error.empty() && r.received.find_first_not_of(" \t\r\n") == std::string::npos)
    t.error = "the endpoint returned no continuation";
  if (!t.error.empty() && t.error != "cancelled") {
    // Local continuation from everything shown.
    r.fallback = true;
    r.fallbackReason = t.error;
    if (r.received.empty())
      r.join = "local";
    std::string all = renderedPrompt + (opener.text.empty() ? "" : opener.lead) + r.text;
    std::vector<int> ids = tok.encode(all, tmpl.addBos());
    Status st = gen.begin(ids);
    if (!st.ok)
      return Status::error("local continuation after the handoff failed (" + t.error + "): " +
                           st.message);
    rt::Sampler sampler(o.localSampling);
    rt::TextStream stream(tok, false);
    for (int i = 0; i < o.localMaxTokens; ++i) {
      if (o.cancel && o.cancel->load())
        break;
      const std::vector<float> &lg = gen.nextLogits();
      int id = sampler.sample(lg.data(), int(lg.size()));
      if (std::find(stopIds.begin(), stopIds.end(), id) != stopIds.end())
        break;
      std::string piece = stream.push(id);
      show(piece);
      if (i + 1 < o.localMaxTokens) {
        st = gen.push(id);
        if (!st.ok)
          break; // the context is full: what was shown stands
      }
    }
    show(stream.flush());
  }
  r.totalMs = t.ms();
  return Status::success();
}

} // namespace chat
} // namespace mu
