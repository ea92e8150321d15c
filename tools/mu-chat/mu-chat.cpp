//===- mu-chat.cpp - an on-device opener handed off to a larger model ------===//
//
// Thin: the opener is lib/Runtime (mu/runtime/Opener.h), the handoff and the
// seam lib/Chat (mu/chat/Handoff.h, Seam.h).
//
//===----------------------------------------------------------------------===//
#include "mu/chat/Handoff.h"
#include "mu/runtime/Chat.h"
#include "mu/runtime/Eval.h"
#include "mu/runtime/Opener.h"
#include "mu/runtime/Runtime.h"
#include "mub_generated.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstdlib>

using namespace mu;

namespace {
int fail(const std::string &msg) {
  std::fprintf(stderr, "mu-chat: error: %s\n", msg.c_str());
  return 1;
}
} // namespace

int main(int argc, char **argv) {
  CLI::App app{"mu-chat: the device model writes an opener at once, a larger model behind an "
               "OpenAI-compatible endpoint continues it, streamed as one text"};
  std::string path, prompt, system, chatTemplateName, api = "chat", apiKeyEnv = "OPENAI_API_KEY";
  chat::HandoffOptions ho;
  rt::OpenerOptions oo;
  bool json = false, greedy = false;
  int threads = 0;
  app.add_option("model", path, "the device model (.mub)")->required();
  app.add_option("-p,--prompt", prompt, "the user message (or, for --api completions with a "
                                        "plain model, the text to continue)")->required();
  app.add_option("--system", system, "the system message (default: the template's)");
  app.add_option("--chat-template", chatTemplateName, "chatml, llama2 or plain");
  app.add_option("--handoff", ho.endpoint.url,
                 "the endpoint, e.g. http://127.0.0.1:8080 (an OpenAI-compatible server)")
      ->required();
  app.add_option("--api", api, "chat (/v1/chat/completions, default) or completions "
                               "(/v1/completions: base models continue raw text)");
  app.add_option("--handoff-model", ho.endpoint.model, "model name sent to the endpoint");
  app.add_option("--api-key-env", apiKeyEnv,
                 "environment variable holding the endpoint's API key (default OPENAI_API_KEY)");
  app.add_option("--max-tokens", ho.endpoint.maxTokens, "continuation tokens asked for (default 128)");
  app.add_option("--handoff-temperature", ho.endpoint.temperature, "the endpoint's temperature (0.7)");
  app.add_option("--connect-timeout-ms", ho.endpoint.connectTimeoutMs, "default 2000");
  app.add_option("--first-token-timeout-ms", ho.endpoint.firstTokenTimeoutMs,
                 "fall back to the device if no continuation text arrives by then (default 5000)");
  app.add_option("--timeout-ms", ho.endpoint.totalTimeoutMs, "whole request (default 60000)");
  app.add_option("--local-max-tokens", ho.localMaxTokens, "the local fallback's cap (default 64)");
  app.add_option("--opener", oo.words, "opener words (default 4)");
  app.add_option("--opener-max-tokens", oo.maxTokens, "opener token cap (default 32)");
  app.add_option("--opener-budget-ms", oo.budgetMs, "opener latency budget (default none)");
  app.add_option("--min-logprob", oo.minMeanLogprob,
                 "withhold or shorten an opener whose mean token log-probability is below this");
  app.add_flag("--greedy", greedy, "argmax decoding on the device");
  app.add_option("--temperature", oo.sampling.temperature, "device sampling temperature (1.0)");
  app.add_option("--top-k", oo.sampling.topK, "device top-k (0 = all)");
  app.add_option("--top-p", oo.sampling.topP, "device nucleus mass (1.0)");
  app.add_option("--seed", oo.sampling.seed, "device random seed (0)");
  app.add_option("--threads", threads, "device kernel threads (default: cores)");
  app.add_flag("--json", json, "print one JSON object: opener, continuation, policy, fallback, "
                               "timings");
  CLI11_PARSE(app, argc, argv);
  if (api == "chat")
    ho.endpoint.api = chat::Api::Chat;
  else if (api == "completions")
    ho.endpoint.api = chat::Api::Completions;
  else
    return fail("--api must be chat or completions, not '" + api + "'");
  if (const char *k = std::getenv(apiKeyEnv.c_str()))
    ho.endpoint.apiKey = k;
  oo.sampling.greedy = greedy;
  ho.localSampling = oo.sampling;

  rt::Status st;
  std::unique_ptr<rt::Model> model = rt::Model::load(path, st);
  if (!model)
    return fail(st.message);
  rt::SessionOptions so;
  so.threads = threads;
  rt::Session session(*model, so);
  rt::Generator gen(*model, session);
  if (gen.isEncoderDecoder())
    return fail(path + ": the device model must be decoder-only");
  rt::Tokenizer tok;
  st = tok.init(model->fb().tokenizer());
  if (!st.ok)
    return fail(path + ": " + st.message);
  rt::ChatTemplate tmpl;
  st = chatTemplateName.empty() ? rt::ChatTemplate::fromTokenizer(tok, tmpl)
                                : rt::ChatTemplate::byName(chatTemplateName, tmpl);
  if (!st.ok)
    return fail(path + ": " + st.message);
  std::vector<rt::ChatMessage> conversation;
  if (!system.empty())
    conversation.push_back({"system", system});
  conversation.push_back({"user", prompt});
  std::string rendered;
  st = tmpl.render(conversation, rendered);
  if (!st.ok)
    return fail(st.message);
  std::vector<int> ids = tok.encode(rendered, tmpl.addBos());
  oo.stopIds = rt::stopIds(tok);
  for (int id : tmpl.stopIds(tok))
    if (std::find(oo.stopIds.begin(), oo.stopIds.end(), id) == oo.stopIds.end())
      oo.stopIds.push_back(id);
  auto print = [&](const std::string &s) {
    if (json)
      return;
    std::fwrite(s.data(), 1, s.size(), stdout);
    std::fflush(stdout);
  };
  oo.onWord = [&](const std::string &w, int, double) { print(w); };
  rt::OpenerResult opener;
  st = rt::generateOpener(gen, tok, ids, oo, opener);
  if (!st.ok)
    return fail(st.message);
  ho.onText = print;
  chat::HandoffResult hr;
  st = chat::handoff(ho, conversation, rendered, tmpl, opener, gen, tok, oo.stopIds, hr);
  if (!st.ok)
    return fail(st.message);
  if (json) {
    nlohmann::json words = nlohmann::json::array();
    for (const rt::OpenerWord &w : opener.words)
      words.push_back({{"word", w.text}, {"ms", w.ms}, {"logprob", w.logprob}});
    nlohmann::json out = {
        {"opener", opener.text},
        {"opener_words", words},
        {"opener_stop", rt::openerStopName(opener.stop)},
        {"opener_mean_logprob", opener.meanLogprob},
        {"continuation", hr.continuation},
        {"text", hr.text},
        {"policy", hr.policy},
        {"received", hr.received},
        {"overlap_words", hr.overlapWords},
        {"removed", hr.removed},
        {"join", hr.join},
        {"fallback", hr.fallback ? "local" : ""},
        {"fallback_reason", hr.fallbackReason},
        {"http_status", hr.httpStatus},
        {"ms",
         {{"opener_first_token", opener.ttftMs},
          {"opener_final", opener.totalMs},
          {"request_first_byte", hr.firstByteMs},
          {"request_first_token", hr.firstTokenMs},
          {"first_continuation_token", hr.firstTokenMs > 0 ? opener.totalMs + hr.firstTokenMs : 0.0},
          {"total", opener.totalMs + hr.totalMs}}}};
    std::printf("%s\n", out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return 0;
  }
  std::printf("\n");
  if (hr.fallback)
    std::fprintf(stderr, "[mu-chat: continued on the device: %s]\n", hr.fallbackReason.c_str());
  return 0;
}
