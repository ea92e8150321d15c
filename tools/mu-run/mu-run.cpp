//===- mu-run.cpp - run a compiled .mub model -----------------------------===//
///
/// \file
/// Generates text (streaming), measures perplexity, dumps intermediates, or
/// describes an artifact. Uses only libmu_runtime.
///
//===----------------------------------------------------------------------===//
#include "mu/Version.h"
#include "mu/runtime/Chat.h"
#include "mu/runtime/Eval.h"
#include "mu/runtime/Generate.h"
#include "mu/runtime/Opener.h"
#include "mu/runtime/Runtime.h"
#include "mu/runtime/SelfTest.h"
#include "mu/runtime/Tokenizer.h"
#include "mub_generated.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <iostream>
#include <sstream>
#include <sys/resource.h>
#include <sys/stat.h>

using namespace mu::rt;

namespace {

std::string jsonEscape(const std::string &s) {
  std::string r;
  for (unsigned char c : s) {
    switch (c) {
    case '"': r += "\\\""; break;
    case '\\': r += "\\\\"; break;
    case '\n': r += "\\n"; break;
    case '\r': r += "\\r"; break;
    case '\t': r += "\\t"; break;
    default:
      if (c < 0x20) {
        char b[8];
        std::snprintf(b, sizeof(b), "\\u%04x", c);
        r += b;
      } else {
        r += char(c);
      }
    }
  }
  return r;
}

std::string shapeStr(const flatbuffers::Vector<int64_t> *v) {
  std::string r = "[";
  for (uint32_t i = 0; v && i < v->size(); ++i)
    r += (i ? "," : "") + (v->Get(i) < 0 ? std::string("?") : std::to_string(v->Get(i)));
  return r + "]";
}

void printInfo(const Model &m) {
  const mu::mub::Model &fb = m.fb();
  std::printf("artifact: %s (%zu bytes)\n", m.path().c_str(), m.fileSize());
  std::printf("format version %u, compiler %s, target %s\n", fb.format_version(),
              fb.compiler_version() ? fb.compiler_version()->c_str() : "?",
              fb.target() ? fb.target()->c_str() : "?");
  std::printf("architecture: %s\nsource sha256: %s\nmax_seq %d, max_ctx %d\n",
              fb.architecture() ? fb.architecture()->c_str() : "?",
              fb.source_sha256() ? fb.source_sha256()->c_str() : "?", fb.max_seq(), fb.max_ctx());
  if (fb.numerics() && fb.numerics()->size()) {
    std::printf("target numerics:");
    for (const auto *n : *fb.numerics())
      std::printf(" %s", n->c_str());
    std::printf("\n");
  }
  if (fb.config()) {
    std::printf("config:");
    for (const auto *kv : *fb.config())
      std::printf(" %s=%s", kv->key()->c_str(), kv->value()->c_str());
    std::printf("\n");
  }
  uint64_t weights = 0;
  if (fb.segments())
    for (const auto *s : *fb.segments())
      weights += s->size();
  std::printf("constant segments: %u (%llu bytes)\n", fb.segments() ? fb.segments()->size() : 0,
              (unsigned long long)weights);
  if (fb.states())
    for (const auto *s : *fb.states())
      std::printf("state %s: %s %s, %llu bytes\n", s->name()->c_str(),
                  mu::mub::EnumNameDType(s->dtype()), shapeStr(s->max_shape()).c_str(),
                  (unsigned long long)s->size());
  std::printf("runtime memory declared: %llu bytes (arenas + state%s)\n",
              (unsigned long long)m.declaredRuntimeBytes(), m.repackedWeightBytes() ? " + packed weights" : "");
  std::printf("kernel scratch bound: %llu bytes per thread\n",
              (unsigned long long)m.scratchBytesPerThread());
  if (m.repackedWeightBytes())
    std::printf("weights packed at run time: %llu bytes (in the declared total)\n",
                (unsigned long long)m.repackedWeightBytes());
  for (const auto *p : *fb.programs()) {
    unsigned onCpu = 0;
    for (const auto *in : *p->instrs())
      onCpu += in->device() == mu::mub::Device::HostCpu;
    std::printf("program %s: %u instructions%s, %u tensors, arena %llu bytes\n", p->name()->c_str(),
                p->instrs()->size(),
                onCpu ? (" (" + std::to_string(onCpu) + " on the host CPU)").c_str() : "",
                p->tensors()->size(), (unsigned long long)p->arena_size());
    auto io = [&](const char *what, const flatbuffers::Vector<int32_t> *v) {
      for (uint32_t i = 0; v && i < v->size(); ++i) {
        const auto *t = p->tensors()->Get(v->Get(i));
        std::printf("  %s %s: %s %s (max %s)\n", what, t->name()->c_str(),
                    mu::mub::EnumNameDType(t->dtype()), shapeStr(t->shape()).c_str(),
                    shapeStr(t->max_shape()).c_str());
      }
    };
    io("input", p->inputs());
    io("output", p->outputs());
    std::map<std::string, int> ops;
    for (const auto *in : *p->instrs())
      ops[mu::mub::EnumNameOpCode(in->op())]++;
    std::printf("  ops:");
    for (auto &[k, v] : ops)
      std::printf(" %s=%d", k.c_str(), v);
    std::printf("\n");
    // What an integer-only accelerator could run: linears by activation type.
    int intLinears = 0, floatLinears = 0;
    for (const auto *in : *p->instrs())
      if (in->op() == mu::mub::OpCode::Linear && in->inputs() && in->inputs()->size() > 0 &&
          in->inputs()->Get(0) >= 0) {
        mu::mub::DType dt = p->tensors()->Get(in->inputs()->Get(0))->dtype();
        (dt == mu::mub::DType::F32 || dt == mu::mub::DType::F16 || dt == mu::mub::DType::BF16
             ? floatLinears
             : intLinears)++;
      }
    if (intLinears + floatLinears > 0)
      std::printf("  linears: %d on integer activations, %d on float\n", intLinears, floatLinears);
  }
  if (!m.loraSites().empty()) {
    std::printf("lora sites: %zu; adapters:", m.loraSites().size());
    for (const std::string &n : m.adapterNames()) {
      int adapted = 0;
      for (const auto &s : m.adapter(n)->sites())
        adapted += s.rank > 0;
      std::printf(" %s (%d sites)", n.c_str(), adapted);
    }
    std::printf(m.adapterNames().empty() ? " none embedded\n" : "\n");
  }
  if (!m.artifactId().empty())
    std::printf("artifact id: %s\n", m.artifactId().c_str());
  if (const auto *t = fb.tokenizer())
    std::printf("tokenizer: %s, %u tokens, %u merges, bos %d\n",
                mu::mub::EnumNameTokenizerKind(t->kind()), t->vocab() ? t->vocab()->size() : 0,
                t->merges() ? t->merges()->size() : 0, t->bos_id());
}

/// Peak resident set size of this process in kB (Linux ru_maxrss).
long peakRssKb() {
  struct rusage ru;
  return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : 0;
}

/// --repeat: runs `once(rep, tokens, stats)` n times. The first run's tokens
/// are kept (and its stats as `cold`); every later run must reproduce them,
/// and `best` takes the fastest ttft and decode rate of all runs.
template <typename F>
Status repeatRuns(int n, const std::string &path, std::vector<int> &tokens, GenerateStats &best,
                  GenerateStats &cold, F once) {
  for (int rep = 0; rep < n; ++rep) {
    std::vector<int> t;
    GenerateStats s;
    Status st = once(rep, t, s);
    if (!st.ok)
      return st;
    if (rep == 0) {
      tokens = t;
      best = cold = s;
    } else if (t != tokens) {
      return Status::error(path + ": --repeat: run " + std::to_string(rep + 1) +
                           " generated different tokens than run 1");
    }
    best.ttftMs = std::min(best.ttftMs, s.ttftMs);
    best.tokensPerS = std::max(best.tokensPerS, s.tokensPerS);
  }
  return Status::success();
}

int fail(const std::string &msg) {
  std::fprintf(stderr, "mu-run: error: %s\n", msg.c_str());
  return 1;
}

} // namespace

int main(int argc, char **argv) {
  CLI::App app{"mu-run: run a compiled .mub model -- generate text, measure perplexity, "
               "inspect the artifact"};
  std::string path, prompt, promptIds, pplFile, dumpDir, comparePath, teacherFile, evalFile,
      adapterSpec;
  int evalLimit = 0, evalSkip = 0;
  int teacherTokens = 512;
  int maxNew = 64, ctx = 0, verifySteps = 0, threads = 0, repeat = 1;
  std::string kernelsName;
  bool greedy = false, json = false, info = false, showIds = false, noCache = false,
       ignoreEos = false, profile = false, checkKernelsFlag = false;
  SamplingOptions so;
  bool chat = false, noSentenceStop = false;
  std::string system, chatTemplateName;
  int openerWords = 0, openerMaxTokens = 32;
  double openerBudgetMs = 0, minLogprob = 0;
  app.add_option("model", path, "compiled artifact (.mub)");
  app.add_option("-p,--prompt", prompt, "prompt text");
  app.add_option("--prompt-ids", promptIds, "prompt as token ids (\"1 403 407\"), no tokenizer needed");
  app.add_option("-n,--max-new-tokens", maxNew, "tokens to generate (default 64)");
  app.add_flag("--greedy", greedy, "argmax decoding (same as --temperature 0)");
  app.add_flag("--ignore-eos", ignoreEos,
               "generate all -n tokens even past EOS (benchmarks: a fixed amount of work)");
  app.add_option("--repeat", repeat,
                 "run the generation N times in this process (model loaded once) and report the "
                 "best ttft and tokens/s next to the first (cold) run's; runs must agree "
                 "token for token (default 1)")
      ->check(CLI::Range(1, 1000));
  app.add_option("--temperature", so.temperature, "sampling temperature (default 1.0)");
  app.add_option("--top-k", so.topK, "sample among the k most likely tokens (0 = all)");
  app.add_option("--top-p", so.topP, "nucleus sampling mass (default 1.0 = off)");
  app.add_option("--seed", so.seed, "random seed (default 0)");
  app.add_flag("--json", json, "print one JSON object: tokens, text, ttft_ms, tokens_per_s, ...");
  app.add_flag("--ids", showIds, "also print the token ids");
  app.add_flag("--chat", chat,
               "treat --prompt as a user message and apply the model's chat template");
  app.add_option("--system", system, "--chat: the system message (default: the template's)");
  app.add_option("--chat-template", chatTemplateName,
                 "--chat: chatml, llama2 or plain instead of the artifact's template");
  app.add_option("--opener", openerWords,
                 "write an opener: stop when word N+1 begins (never inside a word), at a "
                 "sentence end, at the end of the turn or at a cap; --json adds per-word times");
  app.add_option("--opener-max-tokens", openerMaxTokens, "--opener: token cap (default 32)");
  app.add_option("--opener-budget-ms", openerBudgetMs,
                 "--opener: latency budget in ms from the start (default none)");
  app.add_option("--min-logprob", minLogprob,
                 "--opener: floor on the mean token log-probability; a word that brings it "
                 "lower ends the opener before it (e.g. -4; default none)");
  app.add_flag("--no-sentence-stop", noSentenceStop, "--opener: do not stop at a sentence end");
  app.add_option("--perplexity", pplFile, "report the perplexity of a text file");
  app.add_option("--teacher-forced", teacherFile,
                 "feed a text file's tokens (BOS first) one per decode step and print JSON "
                 "{ids, top1}: the argmax after each prefix (compare with other runtimes)");
  app.add_option("--eval", evalFile,
                 "task evaluation on JSONL: {\"input\", \"target\"} lines (encoder-decoder) or "
                 "{\"prompt\", \"completion\"} (decoder-only); greedy decoding, exact-match "
                 "accuracy and the failing examples (--json: one object)");
  app.add_option("--eval-limit", evalLimit, "--eval: only the first N examples (default all)");
  app.add_option("--eval-skip", evalSkip,
                 "--eval: skip the first N examples (e.g. those used for calibration)");
  app.add_option("--teacher-tokens", teacherTokens,
                 "--teacher-forced: how many tokens (default 512, BOS included); for an "
                 "encoder-decoder, how many JSONL examples");
  app.add_option("--ctx", ctx, "perplexity window in tokens (default: max_seq)");
  app.add_option("--adapter", adapterSpec,
                 "Swappable LoRA adapter to run with: the name of one embedded in the artifact, "
                 "or a .mua file compiled against it (--eval: the default for lines without an "
                 "\"adapter\" key; \"none\" = the base model)");
  app.add_option("--compare", comparePath,
                 "also run this artifact (e.g. the quantized model) on the same tokens: with "
                 "--perplexity report both perplexities, mean KL(model || other) and top-1 "
                 "agreement; with a prompt, compare the logits at every prompt position");
  app.add_option("--dump", dumpDir, "write every intermediate tensor into DIR");
  app.add_flag("--info", info, "describe the artifact and exit");
  app.add_flag("--check-kernels", checkKernelsFlag,
               "check every optimized kernel family this CPU runs bit for bit against the "
               "reference integer arithmetic (1 and 2 threads), then exit; no model needed");
  app.add_flag("--profile", profile,
               "print time per kernel opcode and interpreter overhead to stderr at the end");
  app.add_option("--threads", threads,
                 "kernel threads (default: one per physical core); results do not depend on it");
  app.add_option("--kernels", kernelsName,
                 "kernel family: auto (best this CPU has), portable, avx2, avx512-vnni, amx-int8, neon-dotprod "
                 "(default auto; env MU_KERNELS sets the same)");
  uint64_t maxMemoryMb = 0;
  app.add_option("--max-memory", maxMemoryMb,
                 "refuse artifacts that declare more runtime memory than this many MiB "
                 "(arenas + KV cache + kernel scratch per thread; default: physical memory)");
  app.add_flag("--no-cache", noCache, "recompute the whole sequence every step (reference path)");
  app.add_option("--verify-cache", verifySteps,
                 "greedy-decode N steps with the KV cache and compare every step's logits "
                 "with a full recompute; exit 1 if they disagree");
  app.set_version_flag("--version", std::string("mu-run ") + MU_VERSION_STRING + " (" + MU_GIT_REVISION + ")");
  app.footer("Examples:\n  mu-run model.mub --prompt \"Once upon a time\" -n 32 --greedy\n"
             "  mu-run model.mub --prompt \"Hi\" --temperature 0.8 --top-p 0.95 --seed 7 --json\n"
             "  mu-run model.mub --perplexity text.txt --ctx 256\n  mu-run --info model.mub");
  CLI11_PARSE(app, argc, argv);
  so.greedy = greedy;

  if (threads < 0)
    return fail("--threads must be 0 (auto) or positive");
  if (!kernelsName.empty() && kernelsName != "auto") {
    bool found = false;
    for (Isa i : kAllIsas)
      if (kernelsName == isaName(i)) {
        found = true;
        if (!setKernelIsa(i))
          return fail("--kernels " + kernelsName + ": this CPU or build lacks it");
      }
    if (!found)
      return fail("--kernels: unknown family '" + kernelsName + "'");
  }

  if (checkKernelsFlag) {
    bool allOk = true;
    for (Isa i : kAllIsas) {
      if (!isaSupported(i))
        continue;
      int cases = 0, total = 0;
      Status s;
      for (int threads : {1, 2}) {
        s = checkKernels(i, threads, cases);
        total += cases;
        if (!s.ok)
          break;
      }
      std::printf("%-13s %s (%d cases, 1 and 2 threads)\n", isaName(i),
                  s.ok ? "bit-exact" : s.message.c_str(), total);
      allOk = allOk && s.ok;
    }
    std::printf("active: %s\n", isaName(activeIsa()));
    return allOk ? 0 : 1;
  }
  if (path.empty())
    return fail("no model given (see --help)");

  Status st;
  LoadOptions loadOptions;
  loadOptions.maxRuntimeBytes = maxMemoryMb << 20;
  loadOptions.threads = threads;
  std::unique_ptr<Model> model = Model::load(path, loadOptions, st);
  if (!model)
    return fail(st.message);
  if (info) {
    printInfo(*model);
    return 0;
  }
  SessionOptions sessionOptions;
  sessionOptions.threads = threads;
  Session session(*model, sessionOptions);
  // --adapter: an embedded adapter by name, or a .mua file for this base.
  std::unique_ptr<Adapter> fileAdapter;
  std::string adapterName = adapterSpec == "none" ? "" : adapterSpec;
  if (!adapterName.empty() && !model->adapter(adapterName)) {
    struct stat sb;
    if (::stat(adapterName.c_str(), &sb) != 0)
      return fail("--adapter " + adapterName + ": not a .mua file, and " +
                  session.setAdapter(adapterName).message);
    fileAdapter = Adapter::load(*model, adapterName, st);
    if (!fileAdapter)
      return fail(st.message);
    adapterName = fileAdapter->name();
  }
  auto selectAdapter = [&](const std::string &name) -> Status {
    if (fileAdapter && name == fileAdapter->name() && !model->adapter(name))
      return session.setAdapter(fileAdapter.get());
    return session.setAdapter(name);
  };
  if (Status sa = selectAdapter(adapterName); !sa.ok)
    return fail(sa.message);
  session.setProfiling(profile);
  struct ProfilePrinter {
    Session &s;
    bool on;
    ~ProfilePrinter() {
      if (!on)
        return;
      double total = 0;
      auto rows = s.profile();
      for (auto &r : rows)
        total += r.ms;
      std::fprintf(stderr, "%-16s %10s %12s %7s\n", "kernel", "calls", "ms", "share");
      for (auto &r : rows)
        std::fprintf(stderr, "%-16s %10llu %12.3f %6.1f%%\n", r.op.c_str(),
                     (unsigned long long)r.calls, r.ms, total > 0 ? 100.0 * r.ms / total : 0.0);
    }
  } profilePrinter{session, profile};
  if (!dumpDir.empty()) {
    ::mkdir(dumpDir.c_str(), 0755);
    session.setDumpDir(dumpDir);
  }
  Tokenizer tok;
  st = tok.init(model->fb().tokenizer());
  if (!st.ok && promptIds.empty())
    return fail(path + ": " + st.message +
                " (compile with tokenizer.json beside the checkpoint, or pass --prompt-ids)");
  Generator gen(*model, session);
  gen.setUseCache(!noCache);
  const int decoderStart = decoderStartId(*model, tok);
  std::vector<int> ids;
  if (!promptIds.empty()) {
    std::istringstream is(promptIds);
    int v;
    while (is >> v)
      ids.push_back(v);
    if (!is.eof())
      return fail("--prompt-ids: expected integers separated by spaces");
  }

  if (!evalFile.empty()) {
    // Greedy decoding of every example (libmu_eval): exact match after
    // trimming spaces; --compare adds teacher-forced agreement.
    if (!tok.valid())
      return fail(path + ": --eval needs the artifact's tokenizer");
    if (evalLimit < 0 || evalSkip < 0)
      return fail("--eval-limit and --eval-skip must be >= 0");
    const bool seq2seq = gen.isEncoderDecoder();
    ReadExamplesOptions ro;
    if (!seq2seq) {
      ro.inKey = "prompt";
      ro.outKey = "completion";
    }
    ro.skip = size_t(evalSkip);
    ro.limit = size_t(evalLimit);
    std::vector<Example> examples;
    st = readExamples(evalFile, ro, examples);
    if (!st.ok)
      return fail(st.message);
    std::unique_ptr<Model> other;
    std::unique_ptr<Session> otherSession;
    std::unique_ptr<Generator> otherGen;
    if (!comparePath.empty()) {
      if (!seq2seq)
        return fail("--eval --compare compares encoder-decoder artifacts (decoder-only: --perplexity "
                    "--compare)");
      other = Model::load(comparePath, loadOptions, st);
      if (!other)
        return fail(st.message);
      otherSession = std::make_unique<Session>(*other, sessionOptions);
      otherGen = std::make_unique<Generator>(*other, *otherSession);
      if (!otherGen->isEncoderDecoder())
        return fail(comparePath + ": not an encoder-decoder artifact");
    }
    EvalOptions eo;
    eo.decoderStart = decoderStart;
    eo.maxNew = maxNew;
    eo.compare = otherGen.get();
    if (!model->loraSites().empty()) {
      eo.selectAdapter = selectAdapter;
      eo.defaultAdapter = adapterName;
    }
    EvalResult r;
    st = evaluate(gen, tok, examples, eo, r);
    if (!st.ok)
      return fail(evalFile + ": " + st.message);
    const char *inKey = ro.inKey.c_str(), *outKey = ro.outKey.c_str();
    nlohmann::json failures = nlohmann::json::array();
    for (const EvalFailure &fl : r.failures)
      failures.push_back({{"line", fl.line}, {inKey, fl.input}, {outKey, fl.target},
                          {"output", fl.output}});
    nlohmann::json cmp = nullptr;
    double P = double(std::max<int64_t>(1, r.positions));
    if (otherGen && r.positions > 0)
      cmp = {{"other", comparePath}, {"positions", r.positions},
             {"top1_agreement", double(r.agree) / P}, {"mean_kl", r.klSum / P},
             {"target_top1", double(r.targetTop1) / P}};
    if (json) {
      std::printf("%s\n", nlohmann::json({{"examples", r.examples}, {"exact", r.exact},
                                          {"accuracy", r.accuracy()}, {"failures", failures},
                                          {"compare", cmp}, {"outputs", r.outputs},
                                          {"adapter", adapterName}})
                             .dump()
                             .c_str());
    } else {
      std::printf("eval: %lld examples, exact match %lld (%.2f%%)\n", (long long)r.examples,
                  (long long)r.exact, 100.0 * r.accuracy());
      if (!cmp.is_null())
        std::printf("compare (teacher-forced on the targets): %lld positions, top-1 agreement "
                    "%.2f%%, mean KL %.3g, target top-1 %.2f%%\n",
                    (long long)r.positions, 100.0 * double(r.agree) / P, r.klSum / P,
                    100.0 * double(r.targetTop1) / P);
      for (size_t i = 0; i < r.failures.size() && i < 10; ++i)
        std::printf("  line %d: %s -> '%s' (want '%s')\n", r.failures[i].line,
                    r.failures[i].input.c_str(), r.failures[i].output.c_str(),
                    r.failures[i].target.c_str());
      if (r.failures.size() > 10)
        std::printf("  ... %zu more\n", r.failures.size() - 10);
    }
    return 0;
  }

  if (!teacherFile.empty()) {
    std::ifstream f(teacherFile, std::ios::binary);
    if (!f)
      return fail(teacherFile + ": cannot read");
    if (!tok.valid())
      return fail(path + ": --teacher-forced needs the artifact's tokenizer");
    if (teacherTokens < 1)
      return fail("--teacher-tokens must be positive");
    if (gen.isEncoderDecoder()) {
      // Seq2seq: JSONL {"input": ...} lines; each input is encoded (BOS
      // first, as --prompt) and decoded greedily; the decoder tokens and the
      // stop ids let another runtime check its argmax at every step.
      std::vector<int> stop = stopIds(tok);
      nlohmann::json out = nlohmann::json::array();
      std::string line;
      for (int lineNo = 1; std::getline(f, line) && int(out.size()) < teacherTokens; ++lineNo) {
        if (line.find_first_not_of(" \t\r") == std::string::npos)
          continue;
        nlohmann::json ex = nlohmann::json::parse(line, nullptr, false);
        if (ex.is_discarded() || !ex.is_object() || !ex.contains("input") || !ex["input"].is_string())
          return fail(teacherFile + ":" + std::to_string(lineNo) +
                      ": expected a JSON object with a string \"input\"");
        std::vector<int> src = tok.encode(ex["input"].get<std::string>(), true), gen2;
        GenerateStats stats;
        SamplingOptions g;
        g.greedy = true;
        st = gen.generateSeq2Seq(src, decoderStart, maxNew, g, stop, nullptr, gen2, stats);
        if (!st.ok)
          return fail(teacherFile + ":" + std::to_string(lineNo) + ": " + st.message);
        std::vector<int> dec = {decoderStart};
        dec.insert(dec.end(), gen2.begin(), gen2.end());
        out.push_back({{"source", src}, {"decoder", dec}, {"top1", gen2},
                       {"stopped", int(gen2.size()) < maxNew}});
      }
      std::printf("%s\n", nlohmann::json({{"examples", out}, {"stop", stop}}).dump().c_str());
      return 0;
    }
    std::stringstream ss;
    ss << f.rdbuf();
    // Encode a prefix long enough for the tokens asked for (a whole novel
    // takes the BPE seconds); the last few tokens of a cut may differ, so a
    // prefix counts only with a margin past what is used.
    const std::string text = ss.str();
    std::vector<int> all, ids;
    for (size_t len = size_t(teacherTokens) * 16 + 256;; len *= 2) {
      all = tok.encode(text.substr(0, len), false);
      if (len >= text.size() || all.size() >= size_t(teacherTokens) + 16)
        break;
    }
    if (tok.bosId() >= 0)
      ids.push_back(tok.bosId());
    for (size_t i = 0; i < all.size() && ids.size() < size_t(teacherTokens); ++i)
      ids.push_back(all[i]);
    std::vector<int> top1;
    st = gen.teacherForcedArgmax(ids, top1);
    if (!st.ok)
      return fail(st.message);
    auto list = [](const std::vector<int> &v) {
      std::string s = "[";
      for (size_t i = 0; i < v.size(); ++i)
        s += (i ? ", " : "") + std::to_string(v[i]);
      return s + "]";
    };
    std::printf("{\"ids\": %s, \"top1\": %s}\n", list(ids).c_str(), list(top1).c_str());
    return 0;
  }

  if (!pplFile.empty()) {
    if (gen.isEncoderDecoder())
      return fail("--perplexity scores decoder-only artifacts; " + path +
                  " is an encoder-decoder (encode/decode programs)");
    std::ifstream f(pplFile, std::ios::binary);
    if (!f)
      return fail(pplFile + ": cannot read");
    std::stringstream ss;
    ss << f.rdbuf();
    std::vector<int> all = tok.encode(ss.str(), false);
    int window = ctx > 0 ? ctx : model->fb().max_seq();
    if (window < 2)
      return fail("--ctx must be at least 2");
    if (int(all.size()) < window - 1)
      return fail(pplFile + ": " + std::to_string(all.size()) + " tokens, fewer than one window of " +
                  std::to_string(window));
    std::unique_ptr<Model> other;
    std::unique_ptr<Session> otherSession;
    std::unique_ptr<Generator> otherGen;
    if (!comparePath.empty()) {
      other = Model::load(comparePath, loadOptions, st);
      if (!other)
        return fail(st.message);
      otherSession = std::make_unique<Session>(*other, sessionOptions);
      otherGen = std::make_unique<Generator>(*other, *otherSession);
    }
    double nll = 0, nllOther = 0, kl = 0;
    int64_t count = 0, windows = 0, agree = 0;
    std::vector<float> lg, lgOther;
    int64_t vocab, vocabOther = 0;
    auto logSoftmax = [](const float *row, int64_t n, std::vector<double> &out) {
      double mx = *std::max_element(row, row + n), sum = 0;
      for (int64_t v = 0; v < n; ++v)
        sum += std::exp(double(row[v]) - mx);
      double lse = mx + std::log(sum);
      out.resize(size_t(n));
      for (int64_t v = 0; v < n; ++v)
        out[size_t(v)] = double(row[v]) - lse;
    };
    std::vector<double> lp, lq;
    // Non-overlapping windows, BOS first, each predicting window-1 tokens.
    for (size_t start = 0; start + (window - 1) <= all.size(); start += window - 1) {
      std::vector<int> ids;
      if (tok.bosId() >= 0)
        ids.push_back(tok.bosId());
      ids.insert(ids.end(), all.begin() + start, all.begin() + start + (window - 1));
      st = gen.logits(ids, lg, vocab);
      if (!st.ok)
        return fail(st.message);
      if (otherGen) {
        st = otherGen->logits(ids, lgOther, vocabOther);
        if (!st.ok)
          return fail(comparePath + ": " + st.message);
        if (vocabOther != vocab)
          return fail("--compare: vocabularies differ (" + std::to_string(vocab) + " vs " +
                      std::to_string(vocabOther) + ")");
      }
      for (size_t i = 0; i + 1 < ids.size(); ++i) {
        const float *row = lg.data() + i * vocab;
        logSoftmax(row, vocab, lp);
        nll -= lp[size_t(ids[i + 1])];
        if (otherGen) {
          const float *orow = lgOther.data() + i * vocab;
          logSoftmax(orow, vocab, lq);
          nllOther -= lq[size_t(ids[i + 1])];
          double k = 0;
          for (int64_t v = 0; v < vocab; ++v)
            k += std::exp(lp[size_t(v)]) * (lp[size_t(v)] - lq[size_t(v)]);
          kl += k;
          agree += std::max_element(row, row + vocab) - row ==
                   std::max_element(orow, orow + vocab) - orow;
        }
        ++count;
      }
      ++windows;
    }
    double ppl = std::exp(nll / double(count));
    if (otherGen) {
      double pplOther = std::exp(nllOther / double(count));
      if (json)
        std::printf("{\"perplexity\": %.6f, \"perplexity_other\": %.6f, \"perplexity_change_pct\": "
                    "%.4f, \"mean_kl\": %.8f, \"top1_agreement\": %.6f, \"tokens\": %lld, "
                    "\"windows\": %lld, \"ctx\": %d}\n",
                    ppl, pplOther, 100.0 * (pplOther / ppl - 1.0), kl / double(count),
                    double(agree) / double(count), (long long)count, (long long)windows, window);
      else
        std::printf("perplexity %.4f -> %.4f (%+.2f%%), mean KL %.6f, top-1 agreement %.2f%% "
                    "over %lld tokens (%lld windows of %d)\n",
                    ppl, pplOther, 100.0 * (pplOther / ppl - 1.0), kl / double(count),
                    100.0 * double(agree) / double(count), (long long)count, (long long)windows,
                    window);
      return 0;
    }
    if (json)
      std::printf("{\"perplexity\": %.6f, \"tokens\": %lld, \"windows\": %lld, \"ctx\": %d}\n", ppl,
                  (long long)count, (long long)windows, window);
    else
      std::printf("perplexity %.4f over %lld tokens (%lld windows of %d)\n", ppl, (long long)count,
                  (long long)windows, window);
    return 0;
  }

  ChatTemplate chatTemplate;
  if (chat || !chatTemplateName.empty()) {
    if (!tok.valid())
      return fail(path + ": --chat needs the artifact's tokenizer");
    if (!promptIds.empty())
      return fail("--chat takes the user message as --prompt, not --prompt-ids");
    st = chatTemplateName.empty() ? ChatTemplate::fromTokenizer(tok, chatTemplate)
                                  : ChatTemplate::byName(chatTemplateName, chatTemplate);
    if (!st.ok)
      return fail(path + ": " + st.message);
    std::vector<ChatMessage> messages;
    if (!system.empty())
      messages.push_back({"system", system});
    messages.push_back({"user", prompt});
    std::string rendered;
    st = chatTemplate.render(messages, rendered);
    if (!st.ok)
      return fail(st.message);
    ids = tok.encode(rendered, chatTemplate.addBos());
  } else if (promptIds.empty()) {
    ids = tok.encode(prompt, true);
  }
  if (ids.empty())
    return fail("the prompt is empty and the tokenizer adds no BOS");
  if (!comparePath.empty()) {
    std::unique_ptr<Model> other = Model::load(comparePath, loadOptions, st);
    if (!other)
      return fail(st.message);
    Session otherSession(*other, sessionOptions);
    Generator otherGen(*other, otherSession);
    std::vector<float> a, b;
    int64_t va = 0, vb = 0;
    st = gen.logits(ids, a, va);
    if (!st.ok)
      return fail(st.message);
    st = otherGen.logits(ids, b, vb);
    if (!st.ok)
      return fail(comparePath + ": " + st.message);
    if (va != vb)
      return fail("--compare: vocabularies differ");
    double maxDiff = 0, kl = 0;
    int64_t agree = 0, n = int64_t(ids.size());
    for (int64_t i = 0; i < n; ++i) {
      const float *ra = a.data() + i * va, *rb = b.data() + i * va;
      double ma = *std::max_element(ra, ra + va), mb = *std::max_element(rb, rb + va);
      double sa = 0, sb = 0;
      for (int64_t v = 0; v < va; ++v) {
        sa += std::exp(double(ra[v]) - ma);
        sb += std::exp(double(rb[v]) - mb);
        maxDiff = std::max(maxDiff, double(std::fabs(ra[v] - rb[v])));
      }
      for (int64_t v = 0; v < va; ++v) {
        double lp = ra[v] - ma - std::log(sa), lq = rb[v] - mb - std::log(sb);
        kl += std::exp(lp) * (lp - lq);
      }
      agree += std::max_element(ra, ra + va) - ra == std::max_element(rb, rb + va) - rb;
    }
    std::printf("compare: %lld positions, max |logit diff| %.3g, mean KL %.3g, top-1 agreement "
                "%.2f%%\n",
                (long long)n, maxDiff, kl / double(n), 100.0 * double(agree) / double(n));
    return 0;
  }
  if (verifySteps > 0) {
    double diff;
    int mismatches;
    st = gen.verifyCache(ids, decoderStart, verifySteps, diff, mismatches);
    if (!st.ok)
      return fail(st.message);
    bool ok = diff <= 1e-3 && mismatches == 0;
    std::printf("verify-cache: %d steps, max |logit diff| %.3g, argmax mismatches %d: %s\n",
                verifySteps, diff, mismatches, ok ? "OK" : "MISMATCH");
    return ok ? 0 : 1;
  }
  size_t promptLen = ids.size();
  std::vector<int> stop;
  if (tok.valid() && !ignoreEos) {
    stop = stopIds(tok);
    for (int id : chatTemplate.stopIds(tok))
      if (std::find(stop.begin(), stop.end(), id) == stop.end())
        stop.push_back(id);
  }
  if (openerWords > 0) {
    if (!tok.valid())
      return fail(path + ": --opener needs the artifact's tokenizer");
    if (gen.isEncoderDecoder())
      return fail(path + ": --opener needs a decoder-only model");
    OpenerOptions oo;
    oo.words = openerWords;
    oo.maxTokens = openerMaxTokens;
    oo.budgetMs = openerBudgetMs;
    oo.minMeanLogprob = minLogprob;
    oo.stopAtSentenceEnd = !noSentenceStop;
    oo.sampling = so;
    oo.stopIds = stop;
    if (!json)
      oo.onWord = [](const std::string &text, int, double) {
        std::fwrite(text.data(), 1, text.size(), stdout);
        std::fflush(stdout);
      };
    OpenerResult r;
    st = generateOpener(gen, tok, ids, oo, r);
    if (!st.ok)
      return fail(st.message);
    if (json) {
      nlohmann::json words = nlohmann::json::array();
      for (const OpenerWord &w : r.words)
        words.push_back({{"word", w.text}, {"ms", w.ms}, {"tokens", w.tokens},
                         {"logprob", w.logprob}});
      nlohmann::json out = {{"opener", r.text},
                            {"words", words},
                            {"stop", openerStopName(r.stop)},
                            {"mean_logprob", r.meanLogprob},
                            {"prompt_tokens", r.promptTokens},
                            {"sampled_tokens", r.sampledTokens},
                            {"ttft_ms", r.ttftMs},
                            {"total_ms", r.totalMs},
                            {"unshown", r.unshown},
                            {"tail", r.tail},
                            {"chat_template", chatTemplate.name()},
                            {"threads", session.threads()},
                            {"kernels", isaName(activeIsa())}};
      std::printf("%s\n", out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    } else {
      std::printf("\n");
      std::fprintf(stderr, "[opener: %zu words, stop %s, mean logprob %.3f, ttft %.1f ms, last "
                           "word at %.1f ms]\n",
                   r.words.size(), openerStopName(r.stop), r.meanLogprob, r.ttftMs,
                   r.words.empty() ? 0.0 : r.words.back().ms);
    }
    return 0;
  }
  if (gen.isEncoderDecoder()) {
    std::vector<int> out;
    GenerateStats stats, cold;
    st = repeatRuns(repeat, path, out, stats, cold, [&](int, std::vector<int> &o, GenerateStats &s) {
      return gen.generateSeq2Seq(ids, decoderStart, maxNew, so, stop, nullptr, o, s);
    });
    if (!st.ok)
      return fail(st.message);
    std::string text = tok.valid() ? tok.decode(out, true) : "";
    if (json) {
      std::printf("{\"tokens\": [");
      for (size_t i = 0; i < out.size(); ++i)
        std::printf("%s%d", i ? ", " : "", out[i]);
      std::printf("], \"text\": \"%s\", \"ttft_ms\": %.3f, \"tokens_per_s\": %.3f, "
                  "\"ttft_ms_cold\": %.3f, \"runs\": %d, "
                  "\"threads\": %d, \"kernels\": \"%s\", \"peak_rss_kb\": %ld}\n",
                  jsonEscape(text).c_str(), stats.ttftMs, stats.tokensPerS, cold.ttftMs, repeat,
                  session.threads(), isaName(activeIsa()), peakRssKb());
    } else {
      if (tok.valid())
        std::printf("%s\n", text.c_str());
      for (size_t i = 0; i < out.size(); ++i)
        std::printf("%s%d", i ? " " : "", out[i]);
      std::printf("\n");
    }
    return 0;
  }
  std::string pending;
  auto stream = [&](int id) {
    if (json || !tok.valid())
      return;
    std::string b = tok.tokenBytes(id);
    pending += b;
    // Emit only complete UTF-8 sequences.
    size_t cut = pending.size();
    for (size_t back = 1; back <= 3 && back <= pending.size(); ++back) {
      unsigned char c = pending[pending.size() - back];
      if ((c & 0xc0) == 0x80)
        continue;
      size_t need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
      if (need > back)
        cut = pending.size() - back;
      break;
    }
    std::fwrite(pending.data(), 1, cut, stdout);
    std::fflush(stdout);
    pending.erase(0, cut);
  };
  if (!json && tok.valid()) {
    std::string p = tok.decode(ids, true);
    std::fwrite(p.data(), 1, p.size(), stdout);
    std::fflush(stdout);
  }
  GenerateStats stats, cold;
  const std::vector<int> promptTokens = ids;
  st = repeatRuns(repeat, path, ids, stats, cold, [&](int rep, std::vector<int> &seq, GenerateStats &s) {
    seq = promptTokens;
    return gen.generate(seq, maxNew, so, stop, rep == 0 ? stream : std::function<void(int)>(), s);
  });
  if (!st.ok)
    return fail(st.message);
  std::vector<int> cont(ids.begin() + promptLen, ids.end());
  std::string text = tok.valid() ? tok.decode(cont, false) : "";
  if (json) {
    std::printf("{\"prompt_tokens\": [");
    for (size_t i = 0; i < promptLen; ++i)
      std::printf("%s%d", i ? ", " : "", ids[i]);
    std::printf("], \"tokens\": [");
    for (size_t i = 0; i < cont.size(); ++i)
      std::printf("%s%d", i ? ", " : "", cont[i]);
    std::printf("], \"text\": \"%s\", \"ttft_ms\": %.3f, \"tokens_per_s\": %.3f, "
                "\"ttft_ms_cold\": %.3f, \"runs\": %d, "
                "\"generated\": %d, \"peak_bytes\": %zu, \"peak_rss_kb\": %ld, \"threads\": %d, "
                "\"kernels\": \"%s\"}\n",
                jsonEscape(text).c_str(), stats.ttftMs, stats.tokensPerS, cold.ttftMs, repeat,
                stats.generatedTokens, stats.peakBytes, peakRssKb(), session.threads(),
                isaName(activeIsa()));
    return 0;
  }
  std::fwrite(pending.data(), 1, pending.size(), stdout);
  std::printf("\n");
  if (showIds || !tok.valid()) {
    for (size_t i = 0; i < cont.size(); ++i)
      std::printf("%s%d", i ? " " : "", cont[i]);
    std::printf("\n");
  }
  std::fflush(stdout);
  if (repeat > 1)
    std::fprintf(stderr, "[best of %d runs: ttft %.1f ms (first run %.1f ms), %.1f tokens/s]\n",
                 repeat, stats.ttftMs, cold.ttftMs, stats.tokensPerS);
  std::fprintf(stderr,
               "[%d prompt tokens, %d generated, ttft %.1f ms, %.1f tokens/s, runtime memory "
               "%.1f MB, peak RSS %.1f MB]\n",
               stats.promptTokens, stats.generatedTokens, stats.ttftMs, stats.tokensPerS,
               stats.peakBytes / 1048576.0, peakRssKb() / 1024.0);
  return 0;
}
