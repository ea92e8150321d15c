//===- Report.cpp - accuracy report of a quantized artifact ---------------===//
#include "mu/Driver/Report.h"

#include "JsonFile.h"

#include "mu/runtime/Runtime.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cmath>
#include <map>

namespace mu {
namespace quant {

namespace {

/// A tensor's values as float (quantized integers dequantized).
void toFloat(const rt::TensorRef &t, std::vector<float> &out) {
  int64_t n = t.numel();
  out.resize(size_t(n));
  if (t.dtype == rt::DType::F32) {
    std::copy_n(static_cast<const float *>(t.data), n, out.begin());
    return;
  }
  const rt::QuantInfo *q = t.quant;
  int64_t inner = 1;
  if (q && q->count > 1)
    for (size_t d = size_t(q->axis) + 1; d < t.shape.size(); ++d)
      inner *= t.shape[d];
  for (int64_t i = 0; i < n; ++i) {
    double v = 0;
    switch (t.dtype) {
    case rt::DType::I8: v = static_cast<const int8_t *>(t.data)[i]; break;
    case rt::DType::U8: v = static_cast<const uint8_t *>(t.data)[i]; break;
    case rt::DType::I16: v = static_cast<const int16_t *>(t.data)[i]; break;
    case rt::DType::U16: v = static_cast<const uint16_t *>(t.data)[i]; break;
    default: break;
    }
    if (q) {
      int64_t c = q->count > 1 ? (i / inner) % q->count : 0;
      v = (v - (q->zeroPoints ? double(q->zeroPoints[c]) : 0.0)) * q->scales[c];
    }
    out[size_t(i)] = float(v);
  }
}

struct Accum {
  double sig = 0, err = 0, dot = 0, qq = 0;
  int order = 0;
};

double logSoftmaxAt(const float *x, int64_t n, int64_t k, double &lse) {
  double m = -INFINITY;
  for (int64_t i = 0; i < n; ++i)
    m = std::max(m, double(x[i]));
  double s = 0;
  for (int64_t i = 0; i < n; ++i)
    s += std::exp(double(x[i]) - m);
  lse = std::log(s) + m;
  return double(x[k]) - lse;
}

std::string htmlEscape(const std::string &s) {
  std::string o;
  for (char c : s) {
    if (c == '<') o += "&lt;";
    else if (c == '>') o += "&gt;";
    else if (c == '&') o += "&amp;";
    else if (c == '"') o += "&quot;";
    else o += c;
  }
  return o;
}

} // namespace

bool writeReport(const rt::Model &floatModel, const rt::Model &quantModel,
                 const CalibrationInput &input, const ActivationRanges &ranges,
                 const ReportOptions &opts, const std::string &jsonPath,
                 const std::string &htmlPath, std::string &error) {
  rt::Session fs(floatModel), qs(quantModel);
  std::map<std::string, std::vector<float>> ref;
  fs.setObserver([&](const std::string &name, rt::TensorRef &t) {
    if (ranges.count(name) && t.dtype == rt::DType::F32)
      toFloat(t, ref[name]);
  });
  std::map<std::string, Accum> acc;
  int order = 0;
  std::vector<float> buf;
  qs.setObserver([&](const std::string &name, rt::TensorRef &t) {
    // The value the integer program uses for tensor N: N.q (quantized
    // input), N itself when it is the integer output, else N in float.
    std::string base = name;
    if (base.size() > 2 && base.compare(base.size() - 2, 2, ".q") == 0)
      base.resize(base.size() - 2);
    else if (t.dtype == rt::DType::F32 && ranges.count(name))
      return; // the float original of an input that is quantized below
    auto it = ref.find(base);
    if (it == ref.end() || size_t(t.numel()) != it->second.size())
      return;
    toFloat(t, buf);
    Accum &a = acc[base];
    if (a.order == 0)
      a.order = ++order;
    const std::vector<float> &f = it->second;
    for (size_t i = 0; i < f.size(); ++i) {
      double d = double(f[i]) - buf[i];
      a.sig += double(f[i]) * f[i];
      a.err += d * d;
      a.dot += double(f[i]) * buf[i];
      a.qq += double(buf[i]) * buf[i];
    }
  });
  double nllF = 0, nllQ = 0, kl = 0;
  int64_t tokens = 0, agree = 0;
  for (size_t s = 0; s < input.sequences.size(); ++s) {
    const std::vector<int64_t> &seq = input.sequences[s];
    std::vector<rt::HostTensor> fo, qo;
    ref.clear();
    std::string why;
    if (!runExample(fs, input, s, fo, why) || !runExample(qs, input, s, qo, why)) {
      error = "report " + std::string(input.seq2seq() ? "example " : "sequence ") +
              std::to_string(s) + ": " + why;
      return false;
    }
    int64_t V = fo[0].shape.back(), L = int64_t(seq.size());
    const float *pf = fo[0].as<float>(), *pq = qo[0].as<float>();
    // Position p predicts seq[p + 1] (decoder-only) or labels[p] (the
    // teacher-forced decoder of an encoder-decoder: target tokens, then EOS).
    int64_t predicted = input.seq2seq() ? L : L - 1;
    for (int64_t p = 0; p < predicted; ++p) {
      int64_t label = input.seq2seq() ? input.labels[s][size_t(p)] : seq[size_t(p + 1)];
      const float *a = pf + p * V, *b = pq + p * V;
      double lseA, lseB;
      nllF -= logSoftmaxAt(a, V, label, lseA);
      nllQ -= logSoftmaxAt(b, V, label, lseB);
      double k = 0;
      for (int64_t i = 0; i < V; ++i) {
        double la = a[i] - lseA, lb = b[i] - lseB;
        k += std::exp(la) * (la - lb);
      }
      kl += std::max(0.0, k);
      agree += std::max_element(a, a + V) - a == std::max_element(b, b + V) - b;
      ++tokens;
    }
  }
  if (tokens == 0) {
    error = "report: no tokens to evaluate";
    return false;
  }
  double pplF = std::exp(nllF / tokens), pplQ = std::exp(nllQ / tokens);
  double meanKl = kl / tokens, top1 = double(agree) / tokens;

  std::vector<std::pair<int, std::string>> ordered;
  for (auto &[name, a] : acc)
    ordered.emplace_back(a.order, name);
  std::sort(ordered.begin(), ordered.end());
  llvm::json::Array rows;
  struct Row {
    std::string name;
    int bits;
    bool channel, promoted;
    double sqnr, cosine;
  };
  std::vector<Row> table;
  for (auto &[o, name] : ordered) {
    const Accum &a = acc[name];
    const ActivationRange &r = ranges.at(name);
    Row row{name, r.bits, !r.channelLo.empty(),
            std::find(opts.promoted.begin(), opts.promoted.end(), name) != opts.promoted.end(),
            a.err > 0 ? 10 * std::log10(a.sig / a.err) : 200.0,
            a.sig > 0 && a.qq > 0 ? a.dot / std::sqrt(a.sig * a.qq) : 1.0};
    table.push_back(row);
    rows.push_back(llvm::json::Object{{"name", name},
                                      {"bits", r.bits},
                                      {"granularity", row.channel ? "channel" : "tensor"},
                                      {"lo", r.lo},
                                      {"hi", r.hi},
                                      {"promoted", row.promoted},
                                      {"sqnr_db", row.sqnr},
                                      {"cosine", row.cosine}});
  }
  llvm::json::Object root{
      {"format", "mu-quant-report"},
      {"version", 1},
      {"scheme", opts.scheme},
      {"eval", llvm::json::Object{{"source", opts.evalSource},
                                  {"sequences", int64_t(input.sequences.size())},
                                  {"tokens", tokens}}},
      {"end_to_end", llvm::json::Object{{"perplexity_float", pplF},
                                        {"perplexity_quantized", pplQ},
                                        {"perplexity_change_pct", 100.0 * (pplQ / pplF - 1.0)},
                                        {"mean_kl", meanKl},
                                        {"top1_agreement", top1}}},
      {"promoted_to_16_bit", llvm::json::Array(opts.promoted)},
      {"task", opts.task.examples
                   ? llvm::json::Value(llvm::json::Object{
                         {"source", opts.task.source},
                         {"examples", opts.task.examples},
                         {"exact_float", opts.task.exactFloat},
                         {"exact_quantized", opts.task.exactQuant},
                         {"accuracy_float", double(opts.task.exactFloat) / opts.task.examples},
                         {"accuracy_quantized", double(opts.task.exactQuant) / opts.task.examples},
                         {"quantized_failures", [&] {
                            llvm::json::Array a;
                            for (const rt::EvalFailure &f : opts.task.failures)
                              a.push_back(llvm::json::Object{{"line", f.line},
                                                             {"input", f.input},
                                                             {"target", f.target},
                                                             {"output", f.output}});
                            return a;
                          }()}})
                   : llvm::json::Value(nullptr)},
      {"tensors", std::move(rows)}};
  if (!opts.targetJson.empty()) {
    llvm::Expected<llvm::json::Value> t = llvm::json::parse(opts.targetJson);
    if (!t) {
      error = "report: target section: " + llvm::toString(t.takeError());
      return false;
    }
    root["target"] = std::move(*t);
  }
  std::string json;
  llvm::raw_string_ostream js(json);
  js << llvm::formatv("{0:1}", llvm::json::Value(std::move(root))) << "\n";
  if (!writeFileAtomically(jsonPath, json, error))
    return false;

  // Standalone HTML: numbers, an SVG bar chart of per-tensor SQNR, a table.
  std::string h;
  llvm::raw_string_ostream os(h);
  os << "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>mu-compile quantization report</title>\n"
        "<style>body{font-family:sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}td:first-child{text-align:left}"
        ".b8{fill:#e07b39}.b16{fill:#3973e0}</style></head><body>\n";
  os << "<h1>Quantization report</h1>\n<p>" << htmlEscape(opts.scheme) << "</p>\n";
  os << "<p>Evaluated on " << htmlEscape(opts.evalSource) << ": " << tokens
     << (input.seq2seq() ? " teacher-forced decoder tokens" : " predicted tokens") << ".</p>\n<table><tr><th>measure</th><th>value</th></tr>\n";
  os << llvm::formatv("<tr><td>perplexity float &rarr; quantized</td><td>{0:f4} &rarr; {1:f4} ({2:+f2}%)</td></tr>\n",
                      pplF, pplQ, 100.0 * (pplQ / pplF - 1.0));
  os << llvm::formatv("<tr><td>mean KL(float &#8214; quantized)</td><td>{0:f6}</td></tr>\n", meanKl);
  os << llvm::formatv("<tr><td>top-1 agreement</td><td>{0:f2}%</td></tr>\n", 100 * top1);
  if (opts.task.examples)
    os << llvm::formatv("<tr><td>exact match float &rarr; quantized ({0} examples of {1})</td>"
                        "<td>{2:f2}% &rarr; {3:f2}%</td></tr>\n",
                        opts.task.examples, htmlEscape(opts.task.source),
                        100.0 * double(opts.task.exactFloat) / opts.task.examples,
                        100.0 * double(opts.task.exactQuant) / opts.task.examples);
  os << "</table>\n";
  if (!opts.task.failures.empty()) {
    os << "<h2>Examples the quantized model gets wrong</h2>\n<table><tr><th>line</th><th>input</th>"
          "<th>target</th><th>output</th></tr>\n";
    for (const rt::EvalFailure &f : opts.task.failures)
      os << "<tr><td>" << f.line << "</td><td>" << htmlEscape(f.input) << "</td><td>"
         << htmlEscape(f.target) << "</td><td>" << htmlEscape(f.output) << "</td></tr>\n";
    os << "</table>\n";
  }
  if (!opts.targetText.empty())
    os << "<h2>Target: partition and cost estimate</h2>\n<pre>" << htmlEscape(opts.targetText)
       << "</pre>\n";
  double maxDb = 10;
  for (const Row &r : table)
    maxDb = std::max(maxDb, std::min(r.sqnr, 120.0));
  const int barW = 12, chartH = 220, left = 40;
  int width = left + int(table.size()) * barW + 20;
  os << "<h2>Per-tensor SQNR (dB), program order</h2>\n<p>Orange: 8-bit, blue: 16-bit. "
        "Hover a bar for the tensor.</p>\n";
  os << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\""
     << chartH + 30 << "\">\n";
  for (int db = 0; db <= int(maxDb); db += 10) {
    int y = chartH - int(db / maxDb * chartH);
    os << "<line x1=\"" << left << "\" x2=\"" << width << "\" y1=\"" << y << "\" y2=\"" << y
       << "\" stroke=\"#eee\"/><text x=\"0\" y=\"" << y + 4 << "\" font-size=\"10\">" << db
       << "</text>\n";
  }
  for (size_t i = 0; i < table.size(); ++i) {
    const Row &r = table[i];
    int hgt = int(std::max(0.0, std::min(r.sqnr, maxDb)) / maxDb * chartH);
    os << "<rect class=\"" << (r.bits == 16 ? "b16" : "b8") << "\" x=\"" << left + int(i) * barW
       << "\" y=\"" << chartH - hgt << "\" width=\"" << barW - 2 << "\" height=\"" << hgt
       << "\"><title>" << htmlEscape(r.name) << llvm::formatv(": {0:f1} dB, cosine {1:f5}", r.sqnr, r.cosine)
       << "</title></rect>\n";
  }
  os << "</svg>\n<h2>Tensors</h2>\n<table><tr><th>tensor</th><th>bits</th><th>scales</th>"
        "<th>SQNR dB</th><th>cosine</th></tr>\n";
  for (const Row &r : table)
    os << "<tr><td>" << htmlEscape(r.name) << (r.promoted ? " (promoted)" : "") << "</td><td>"
       << r.bits << "</td><td>" << (r.channel ? "per channel" : "per tensor") << "</td><td>"
       << llvm::formatv("{0:f1}", r.sqnr) << "</td><td>" << llvm::formatv("{0:f5}", r.cosine)
       << "</td></tr>\n";
  os << "</table>\n<p>SQNR = 10 log10(&Sigma; f&sup2; / &Sigma; (f - q)&sup2;) of the quantized "
        "program's value (dequantized) against the float program's, both run by the mu executor "
        "on the same tokens; errors accumulate through the layers.</p>\n</body></html>\n";
  return writeFileAtomically(htmlPath, h, error);
}

} // namespace quant
} // namespace mu
