//===- handoff-bench.cpp - opener latency and handoff breakdown (benchmark) -===//
//
// Not a test: prints numbers, asserts nothing (test/bench/handoff.sh runs it).
//
//   mu-bench-handoff opener MODEL.mub --prompts FILE [--words 4] [--reps 5]
//     The device model stays loaded, as in a service. For each user message
//     (one per line) rendered with the artifact's chat template: the time
//     from the request (template + tokenize + prefill + sampling) to the
//     opener's first token and to each of its first words becoming final
//     (a word is final when the next one begins), best of --reps; then the
//     median over the prompts.
//
//   mu-bench-handoff handoff MODEL.mub --prompts FILE --url URL [--api completions]
//     For each prompt: opener on the device, handoff to the endpoint, and
//     the breakdown (opener final, request -> first byte, -> first
//     continuation token, whole reply); then how many seams needed overlap
//     removal, a punctuation join, or recovery (a withheld opener, the local
//     fallback), and medians.
//
//===----------------------------------------------------------------------===//
#include "mu/chat/Handoff.h"
#include "mu/runtime/Chat.h"
#include "mu/runtime/Eval.h"
#include "mu/runtime/Opener.h"
#include "mu/runtime/Runtime.h"
#include "mub_generated.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>

using namespace mu;
using Clock = std::chrono::steady_clock;

namespace {
int fail(const std::string &msg) {
  std::fprintf(stderr, "mu-bench-handoff: error: %s\n", msg.c_str());
  return 1;
}

double msSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

double median(std::vector<double> v) {
  if (v.empty())
    return 0;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double percentile(std::vector<double> v, double p) {
  if (v.empty())
    return 0;
  std::sort(v.begin(), v.end());
  size_t i = std::min(v.size() - 1, size_t(p * double(v.size() - 1) + 0.5));
  return v[i];
}

std::string oneLine(std::string s, size_t width) {
  for (char &c : s)
    if (c == '\n' || c == '\r' || c == '\t')
      c = ' ';
  if (s.size() > width)
    s = s.substr(0, width - 3) + "...";
  return s;
}

struct Device {
  std::unique_ptr<rt::Model> model;
  std::unique_ptr<rt::Session> session;
  std::unique_ptr<rt::Generator> gen;
  rt::Tokenizer tok;
  rt::ChatTemplate tmpl;
  std::vector<int> stopIds;
};

rt::Status loadDevice(const std::string &path, int threads, const std::string &templateName,
                      Device &d) {
  rt::Status st;
  d.model = rt::Model::load(path, st);
  if (!d.model)
    return st;
  rt::SessionOptions so;
  so.threads = threads;
  d.session = std::make_unique<rt::Session>(*d.model, so);
  d.gen = std::make_unique<rt::Generator>(*d.model, *d.session);
  if (d.gen->isEncoderDecoder())
    return rt::Status::error(path + ": the device model must be decoder-only");
  st = d.tok.init(d.model->fb().tokenizer());
  if (!st.ok)
    return rt::Status::error(path + ": " + st.message);
  st = templateName.empty() ? rt::ChatTemplate::fromTokenizer(d.tok, d.tmpl)
                            : rt::ChatTemplate::byName(templateName, d.tmpl);
  if (!st.ok)
    return rt::Status::error(path + ": " + st.message);
  d.stopIds = rt::stopIds(d.tok);
  for (int id : d.tmpl.stopIds(d.tok))
    if (std::find(d.stopIds.begin(), d.stopIds.end(), id) == d.stopIds.end())
      d.stopIds.push_back(id);
  return rt::Status();
}

bool readLines(const std::string &path, std::vector<std::string> &out) {
  std::ifstream in(path);
  if (!in)
    return false;
  std::string line;
  while (std::getline(in, line))
    if (!line.empty() && line[0] != '#')
      out.push_back(line);
  return true;
}
} // namespace

int main(int argc, char **argv) {
  CLI::App app{"mu-bench-handoff: opener latency and handoff breakdown (a benchmark; prints "
               "numbers)"};
  app.require_subcommand(1);
  std::string path, promptsPath, system, templateName, url, api = "chat";
  int words = 4, reps = 5, threads = 0, maxTokens = 32, limit = 0;
  uint64_t seed = 1;
  bool greedy = false, rawText = false;
  auto common = [&](CLI::App *c) {
    c->add_option("model", path, "the device model (.mub)")->required();
    c->add_option("--prompts", promptsPath, "user messages, one per line ('#' = comment)")
        ->required();
    c->add_option("--system", system, "system message (default: the template's)");
    c->add_option("--chat-template", templateName, "chatml, llama2 or plain");
    c->add_option("--words", words, "opener words (default 4)");
    c->add_option("--threads", threads, "device kernel threads (default: cores)");
    c->add_option("--seed", seed, "device sampling seed (default 1)");
    c->add_option("--limit", limit, "use only the first N prompts");
    c->add_flag("--greedy", greedy, "argmax decoding on the device");
    c->add_flag("--raw", rawText, "prompts are raw text (BOS + text), not chat messages");
  };
  CLI::App *opener = app.add_subcommand("opener", "time to the first token and to each word");
  common(opener);
  opener->add_option("--reps", reps, "repetitions per prompt, best taken (default 5)");
  CLI::App *handoff = app.add_subcommand("handoff", "opener + handoff, per prompt and in total");
  common(handoff);
  handoff->add_option("--url", url, "the endpoint (mu-serve or any OpenAI-compatible server)")
      ->required();
  handoff->add_option("--api", api, "chat or completions (raw text, base models)");
  handoff->add_option("--max-tokens", maxTokens, "continuation tokens asked for (default 32)");
  CLI11_PARSE(app, argc, argv);

  Device d;
  rt::Status st = loadDevice(path, threads, templateName, d);
  if (!st.ok)
    return fail(st.message);
  std::vector<std::string> prompts;
  if (!readLines(promptsPath, prompts))
    return fail(promptsPath + ": cannot read");
  if (limit > 0 && size_t(limit) < prompts.size())
    prompts.resize(size_t(limit));
  if (prompts.empty())
    return fail(promptsPath + ": no prompts");
  const bool raw = rawText || (*handoff && api == "completions");

  rt::OpenerOptions oo;
  oo.words = words;
  oo.stopIds = d.stopIds;
  oo.sampling.greedy = greedy;
  oo.sampling.seed = seed;

  // One request: render + tokenize + opener, timed from its start.
  struct Timed {
    rt::OpenerResult r;
    std::vector<rt::ChatMessage> conversation;
    std::string rendered;
    double encodeMs = 0;
  };
  auto runOpener = [&](const std::string &prompt, Timed &t) -> rt::Status {
    Clock::time_point t0 = Clock::now();
    t.conversation.clear();
    if (raw) {
      t.rendered = prompt;
    } else {
      if (!system.empty())
        t.conversation.push_back({"system", system});
      t.conversation.push_back({"user", prompt});
      rt::Status s = d.tmpl.render(t.conversation, t.rendered);
      if (!s.ok)
        return s;
    }
    std::vector<int> ids = d.tok.encode(t.rendered, raw ? true : d.tmpl.addBos());
    t.encodeMs = msSince(t0);
    rt::Status s = rt::generateOpener(*d.gen, d.tok, ids, oo, t.r);
    // The opener's times are from its call; make them from the request.
    t.r.ttftMs += t.encodeMs;
    t.r.totalMs += t.encodeMs;
    for (rt::OpenerWord &w : t.r.words)
      w.ms += t.encodeMs;
    return s;
  };

  std::printf("device: %s (%s, %d threads), %zu prompts, opener %d words\n", path.c_str(),
              d.tmpl.name(), d.session->threads(), prompts.size(), words);

  if (*opener) {
    Timed warm;
    if (!(st = runOpener(prompts[0], warm)).ok) // page in the weights, size the arenas
      return fail(st.message);
    std::printf("\n%-4s %6s %8s %9s %7s %7s", "#", "prompt", "encode", "1st_tok", "sampled",
                "ms/tok");
    for (int w = 1; w <= words; ++w)
      std::printf("  word%-4d", w);
    std::printf("  %-10s %s\n", "stop", "opener");
    std::vector<double> ttft, encode, perToken, fiveTokens;
    std::vector<std::vector<double>> wordMs(static_cast<size_t>(words));
    int shortOpeners = 0;
    for (size_t i = 0; i < prompts.size(); ++i) {
      Timed best;
      for (int k = 0; k < reps; ++k) {
        Timed t;
        if (!(st = runOpener(prompts[i], t)).ok)
          return fail(st.message);
        // Same seed every repetition: the same opener, so the best is fair.
        if (k == 0 || t.r.totalMs < best.r.totalMs)
          best = std::move(t);
      }
      const rt::OpenerResult &r = best.r;
      ttft.push_back(r.ttftMs);
      encode.push_back(best.encodeMs);
      // Decode cost per token after the first (the opener ends when the
      // last sampled token's text is known).
      double msPerToken =
          r.sampledTokens > 1 ? (r.totalMs - r.ttftMs) / double(r.sampledTokens - 1) : 0;
      if (r.sampledTokens > 1) {
        perToken.push_back(msPerToken);
        fiveTokens.push_back(r.ttftMs + words * msPerToken);
      }
      std::printf("%-4zu %6d %8.2f %9.2f %7d %7.2f", i + 1, r.promptTokens, best.encodeMs, r.ttftMs,
                  r.sampledTokens, msPerToken);
      for (int w = 0; w < words; ++w) {
        if (size_t(w) < r.words.size()) {
          wordMs[size_t(w)].push_back(r.words[size_t(w)].ms);
          std::printf("  %8.2f", r.words[size_t(w)].ms);
        } else {
          std::printf("  %8s", "-");
        }
      }
      if (r.words.size() < size_t(words))
        ++shortOpeners;
      std::printf("  %-10s %s\n", rt::openerStopName(r.stop), oneLine(r.text, 48).c_str());
    }
    std::printf("\nmedian over %zu prompts (best of %d each): prompt encode %.2f ms, first token "
                "%.2f ms",
                prompts.size(), reps, median(encode), median(ttft));
    for (int w = 0; w < words; ++w)
      if (!wordMs[size_t(w)].empty())
        std::printf(", word %d %.2f ms", w + 1, median(wordMs[size_t(w)]));
    std::printf("\ndecode %.2f ms/token; first token + %d more (the fewest a %d-word opener "
                "takes: one token per word, and the next word's first piece) %.2f ms",
                median(perToken), words, words, median(fiveTokens));
    std::printf("\nmax: first token %.2f ms, word %d %.2f ms; openers shorter than %d words "
                "(sentence end / end of turn / cap): %d\n",
                percentile(ttft, 1.0), words, percentile(wordMs[size_t(words - 1)], 1.0), words,
                shortOpeners);
    return 0;
  }

  // Handoff.
  chat::HandoffOptions ho;
  ho.endpoint.url = url;
  if (api == "chat")
    ho.endpoint.api = chat::Api::Chat;
  else if (api == "completions")
    ho.endpoint.api = chat::Api::Completions;
  else
    return fail("--api must be chat or completions, not '" + api + "'");
  ho.endpoint.maxTokens = maxTokens;
  ho.localSampling = oo.sampling;
  ho.onText = [](const std::string &) {};
  std::printf("endpoint: %s (%s)\n\n", url.c_str(), api.c_str());
  std::printf("%-4s %8s %8s %9s %8s  %-9s %-7s %-7s %s\n", "#", "opener", "1st_byte", "1st_cont",
              "total", "policy", "overlap", "join", "reply");
  std::vector<double> openerMs, firstByte, firstCont, total;
  std::map<std::string, int> policies, joins;
  int overlaps = 0, fallbacks = 0;
  std::string fallbackReasons;
  for (size_t i = 0; i < prompts.size(); ++i) {
    Timed t;
    if (!(st = runOpener(prompts[i], t)).ok)
      return fail(st.message);
    chat::HandoffResult hr;
    if (!(st = chat::handoff(ho, t.conversation, t.rendered, d.tmpl, t.r, *d.gen, d.tok,
                             d.stopIds, hr))
             .ok)
      return fail(st.message);
    openerMs.push_back(t.r.totalMs);
    if (!hr.fallback) {
      firstByte.push_back(hr.firstByteMs);
      firstCont.push_back(t.r.totalMs + hr.firstTokenMs);
    }
    total.push_back(t.r.totalMs + hr.totalMs);
    ++policies[hr.policy];
    ++joins[hr.join.empty() ? "-" : hr.join];
    if (hr.overlapWords > 0)
      ++overlaps;
    if (hr.fallback) {
      ++fallbacks;
      if (fallbackReasons.empty())
        fallbackReasons = hr.fallbackReason;
    }
    std::printf("%-4zu %8.2f %8.2f %9.2f %8.2f  %-9s %-7d %-7s %s\n", i + 1, t.r.totalMs,
                hr.firstByteMs, hr.fallback ? 0.0 : t.r.totalMs + hr.firstTokenMs,
                t.r.totalMs + hr.totalMs, hr.fallback ? "fallback" : hr.policy.c_str(),
                hr.overlapWords, hr.join.c_str(),
                oneLine("[" + t.r.text + "] " + hr.continuation, 60).c_str());
  }
  std::printf("\n%zu prompts; ms from the request, medians: opener final %.2f, request -> "
              "response headers %.2f, first continuation token %.2f, whole reply %.2f\n",
              prompts.size(), median(openerMs), median(firstByte), median(firstCont),
              median(total));
  std::printf("policies:");
  for (const auto &p : policies)
    std::printf(" %s %d", p.first.c_str(), p.second);
  std::printf("; seams: overlap removed %d, joins", overlaps);
  for (const auto &j : joins)
    std::printf(" %s %d", j.first.c_str(), j.second);
  std::printf("; recovery: withheld openers %d, local fallbacks %d%s%s\n",
              policies.count("withheld") ? policies["withheld"] : 0, fallbacks,
              fallbacks ? " (first: " : "", fallbacks ? (fallbackReasons + ")").c_str() : "");
  return 0;
}
