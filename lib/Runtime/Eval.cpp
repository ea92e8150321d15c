//===- Eval.cpp - task data and exact-match evaluation --------------------===//
#include "mu/runtime/Eval.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>

namespace mu {
namespace rt {

namespace {

std::string trim(const std::string &t) {
  size_t b = t.find_first_not_of(" \t\r\n"), e = t.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? std::string() : t.substr(b, e - b + 1);
}

bool endsWith(const std::string &s, const char *suffix) {
  size_t n = std::char_traits<char>::length(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

} // namespace

Status readExamples(const std::string &path, const ReadExamplesOptions &o,
                    std::vector<Example> &out) {
  out.clear();
  std::ifstream f(path, std::ios::binary);
  if (!f)
    return Status::error(path + ": cannot read");
  const bool tsv = endsWith(path, ".tsv") || endsWith(path, ".txt");
  std::string line;
  size_t seen = 0;
  int withTarget = 0, withoutTarget = 0, firstWithout = 0, firstWith = 0;
  for (int lineNo = 1; std::getline(f, line); ++lineNo) {
    if (!line.empty() && line.back() == '\r')
      line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos)
      continue;
    auto where = [&] { return path + ":" + std::to_string(lineNo) + ": "; };
    Example ex;
    ex.line = lineNo;
    bool hasTarget = false;
    if (tsv) {
      size_t tab = line.find('\t');
      ex.input = line.substr(0, tab);
      if (tab != std::string::npos) {
        if (line.find('\t', tab + 1) != std::string::npos)
          return Status::error(where() + "expected 'input<TAB>target', found more than one tab");
        ex.target = trim(line.substr(tab + 1));
        hasTarget = true;
      }
    } else {
      nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (j.is_discarded() || !j.is_object())
        return Status::error(where() + "not a JSON object (expected {\"" + o.inKey + "\": ..., \"" +
                             o.outKey + "\": ...})");
      auto in = j.find(o.inKey);
      if (in == j.end() || !in->is_string())
        return Status::error(where() + (in == j.end() ? "missing key \"" : "non-string \"") +
                             o.inKey + "\"");
      ex.input = in->get<std::string>();
      auto tg = j.find(o.outKey);
      if (tg != j.end()) {
        if (!tg->is_string())
          return Status::error(where() + "non-string \"" + o.outKey + "\"");
        ex.target = trim(tg->get<std::string>());
        hasTarget = true;
      }
      auto ad = j.find("adapter");
      if (ad != j.end()) {
        if (!ad->is_string())
          return Status::error(where() + "non-string \"adapter\"");
        ex.adapter = ad->get<std::string>();
        if (ex.adapter == "none")
          ex.adapter.clear();
        ex.hasAdapter = true;
      }
    }
    if (trim(ex.input).empty())
      return Status::error(where() + "empty \"" + o.inKey + "\"");
    if (hasTarget && ex.target.empty())
      return Status::error(where() + "empty \"" + o.outKey + "\"");
    if (!hasTarget && o.requireTarget)
      return Status::error(where() + "missing key \"" + o.outKey + "\"" +
                           (tsv ? " (no tab after the input)" : ""));
    if (hasTarget) {
      if (!withTarget++)
        firstWith = lineNo;
    } else if (!withoutTarget++) {
      firstWithout = lineNo;
    }
    if (withTarget && withoutTarget)
      return Status::error(path + ":" + std::to_string(std::max(firstWith, firstWithout)) +
                           ": missing key \"" + o.outKey + "\" on line " +
                           std::to_string(firstWithout) + " but present on line " +
                           std::to_string(firstWith) +
                           " (give every line a target, or none: inputs only)");
    if (seen++ < o.skip)
      continue;
    if (o.limit && out.size() >= o.limit)
      break;
    out.push_back(std::move(ex));
  }
  if (out.empty())
    return Status::error(path + ": no examples" +
                         (o.skip ? " after skipping " + std::to_string(o.skip) : std::string()));
  return Status::success();
}

std::vector<int> stopIds(const Tokenizer &tok) {
  std::vector<int> stop = tok.eosIds();
  if (tok.bosId() >= 0)
    stop.push_back(tok.bosId());
  return stop;
}

int decoderStartId(const Model &model, const Tokenizer &tok) {
  std::string ds = model.config("decoder_start_token_id");
  if (!ds.empty())
    return std::atoi(ds.c_str());
  if (tok.valid() && tok.bosId() >= 0)
    return tok.bosId();
  return 0;
}

void seq2seqTokens(const Tokenizer &tok, const std::string &input, const std::string &target,
                   int start, std::vector<int> &source, std::vector<int> &decoder,
                   std::vector<int> &labels) {
  source = tok.encode(input, true);
  labels = tok.encode(trim(target), false);
  if (!tok.eosIds().empty())
    labels.push_back(tok.eosIds()[0]);
  decoder.assign(1, start);
  decoder.insert(decoder.end(), labels.begin(), labels.end() - (labels.empty() ? 0 : 1));
}

double klDivergence(const float *a, const float *b, int64_t n) {
  double ma = -INFINITY, mb = -INFINITY;
  for (int64_t i = 0; i < n; ++i) {
    ma = std::max(ma, double(a[i]));
    mb = std::max(mb, double(b[i]));
  }
  double sa = 0, sb = 0;
  for (int64_t i = 0; i < n; ++i) {
    sa += std::exp(double(a[i]) - ma);
    sb += std::exp(double(b[i]) - mb);
  }
  double lsa = ma + std::log(sa), lsb = mb + std::log(sb), k = 0;
  for (int64_t i = 0; i < n; ++i) {
    double pa = double(a[i]) - lsa;
    k += std::exp(pa) * (pa - (double(b[i]) - lsb));
  }
  return std::max(0.0, k);
}

Status evaluate(Generator &gen, const Tokenizer &tok, const std::vector<Example> &examples,
                const EvalOptions &o, EvalResult &r) {
  r = EvalResult();
  if (!tok.valid())
    return Status::error("evaluation needs the artifact's tokenizer");
  const bool seq2seq = gen.isEncoderDecoder();
  if (o.compare && !seq2seq)
    return Status::error("--compare with --eval compares encoder-decoder artifacts");
  if (o.compare && !o.compare->isEncoderDecoder())
    return Status::error("the compared artifact is not an encoder-decoder");
  std::vector<int> stop = o.stop.empty() ? stopIds(tok) : o.stop;
  SamplingOptions greedy;
  greedy.greedy = true;
  for (const Example &ex : examples) {
    if (ex.target.empty())
      return Status::error("line " + std::to_string(ex.line) + ": no target to compare with");
    if (o.selectAdapter) {
      Status sa = o.selectAdapter(ex.hasAdapter ? ex.adapter : o.defaultAdapter);
      if (!sa.ok)
        return Status::error("line " + std::to_string(ex.line) + ": " + sa.message);
    }
    std::vector<int> ids = tok.encode(ex.input, true), out;
    GenerateStats stats;
    std::string got;
    Status st;
    if (seq2seq) {
      st = gen.generateSeq2Seq(ids, o.decoderStart, o.maxNew, greedy, stop, nullptr, out, stats);
      got = trim(tok.decode(out, true));
    } else {
      size_t promptLen = ids.size();
      int budget = int(tok.encode(ex.target, false).size()) + 4;
      st = gen.generate(ids, budget, greedy, stop, nullptr, stats);
      out.assign(ids.begin() + long(promptLen), ids.end());
      got = trim(tok.decode(out, true));
      if (got.compare(0, ex.target.size(), ex.target) == 0)
        got = ex.target; // the completion, then more text: a match
    }
    if (!st.ok)
      return Status::error("line " + std::to_string(ex.line) + ": " + st.message);
    if (o.compare) {
      std::vector<int> src, dec, labels;
      seq2seqTokens(tok, ex.input, ex.target, o.decoderStart, src, dec, labels);
      std::vector<float> la, lb;
      int64_t va = 0, vb = 0;
      st = gen.teacherForcedSeq2Seq(src, dec, la, va);
      if (st.ok)
        st = o.compare->teacherForcedSeq2Seq(src, dec, lb, vb);
      if (!st.ok)
        return Status::error("line " + std::to_string(ex.line) + ": " + st.message);
      if (va != vb)
        return Status::error("the compared artifacts have different vocabularies (" +
                             std::to_string(va) + " vs " + std::to_string(vb) + ")");
      for (size_t j = 0; j < dec.size(); ++j) {
        const float *a = la.data() + j * size_t(va), *b = lb.data() + j * size_t(vb);
        int64_t ia = std::max_element(a, a + va) - a, ib = std::max_element(b, b + vb) - b;
        r.agree += ia == ib;
        r.targetTop1 += ia == labels[j];
        r.klSum += klDivergence(a, b, va);
        ++r.positions;
      }
    }
    ++r.examples;
    r.outputs.push_back(got);
    if (got == ex.target)
      ++r.exact;
    else
      r.failures.push_back({ex.line, ex.input, ex.target, got});
  }
  return Status::success();
}

} // namespace rt
} // namespace mu
