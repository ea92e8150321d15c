//===- Calibrate.cpp - running the float model on calibration data --------===//
#include "mu/Driver/Calibrate.h"

#include "mu/runtime/Eval.h"
#include "mu/runtime/Runtime.h"
#include "mu/runtime/Tokenizer.h"
#include "mub_generated.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>

namespace mu {
namespace quant {

bool parseCalibFormat(const std::string &name, CalibFormat &out) {
  if (name == "auto") out = CalibFormat::Auto;
  else if (name == "text") out = CalibFormat::Text;
  else if (name == "ids") out = CalibFormat::Ids;
  else if (name == "npy") out = CalibFormat::Npy;
  else return false;
  return true;
}

namespace {

bool endsWith(const std::string &s, const std::string &suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

/// Windows of `length` tokens (BOS + length-1 text tokens) spread evenly
/// over `tokens`.
bool cutWindows(const std::string &path, const std::vector<int64_t> &tokens, int bos,
                int64_t count, int64_t length, CalibrationInput &out, std::string &error) {
  int64_t body = bos >= 0 ? length - 1 : length;
  if (int64_t(tokens.size()) < body) {
    error = path + ": " + std::to_string(tokens.size()) +
            " tokens, fewer than one calibration sequence (" + std::to_string(body) +
            (bos >= 0 ? " tokens after BOS" : " tokens") +
            "); use a longer file or a smaller --calib-len";
    return false;
  }
  int64_t available = int64_t(tokens.size()) / body;
  int64_t n = std::min(count, available);
  // Spread the n windows over the whole text (stride >= body).
  int64_t stride = n > 1 ? (int64_t(tokens.size()) - body) / (n - 1) : 0;
  for (int64_t i = 0; i < n; ++i) {
    std::vector<int64_t> seq;
    if (bos >= 0)
      seq.push_back(bos);
    int64_t start = i * stride;
    seq.insert(seq.end(), tokens.begin() + start, tokens.begin() + start + body);
    out.sequences.push_back(std::move(seq));
  }
  return true;
}

/// Minimal .npy reader: little-endian i4/i8/f4/f8, C order, rank 1 or 2.
bool readNpy(const std::string &path, const std::string &bytes, std::vector<int64_t> &shape,
             std::vector<double> &values, std::string &error) {
  if (bytes.size() < 10 || std::memcmp(bytes.data(), "\x93NUMPY", 6) != 0) {
    error = path + ": not a .npy file (bad magic at byte 0)";
    return false;
  }
  uint8_t major = uint8_t(bytes[6]);
  size_t hlen, hoff;
  if (major == 1) {
    hlen = uint8_t(bytes[8]) | (size_t(uint8_t(bytes[9])) << 8);
    hoff = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) {
      error = path + ": truncated .npy header";
      return false;
    }
    hlen = 0;
    for (int i = 0; i < 4; ++i)
      hlen |= size_t(uint8_t(bytes[8 + i])) << (8 * i);
    hoff = 12;
  } else {
    error = path + ": unsupported .npy version " + std::to_string(major);
    return false;
  }
  if (hoff + hlen > bytes.size()) {
    error = path + ": truncated .npy header (" + std::to_string(hlen) + " bytes declared)";
    return false;
  }
  std::string header = bytes.substr(hoff, hlen);
  auto field = [&](const std::string &key) -> std::string {
    size_t k = header.find("'" + key + "'");
    if (k == std::string::npos)
      return "";
    size_t c = header.find(':', k);
    if (c == std::string::npos)
      return "";
    size_t s = header.find_first_not_of(' ', c + 1);
    if (s == std::string::npos)
      return "";
    if (header[s] == '(') {
      size_t e = header.find(')', s);
      return e == std::string::npos ? "" : header.substr(s, e - s + 1);
    }
    size_t e = header.find_first_of(",}", s);
    return header.substr(s, e == std::string::npos ? std::string::npos : e - s);
  };
  std::string descr = field("descr"), order = field("fortran_order"), shp = field("shape");
  size_t es = 0;
  bool isFloat = false;
  if (descr == "'<i8'") es = 8;
  else if (descr == "'<i4'") es = 4;
  else if (descr == "'<f4'") es = 4, isFloat = true;
  else if (descr == "'<f8'") es = 8, isFloat = true;
  else {
    error = path + ": dtype " + (descr.empty() ? "(missing)" : descr) +
            " cannot hold token ids (expected int32/int64, or integral float32/float64)";
    return false;
  }
  if (order != "False") {
    error = path + ": Fortran-order arrays are not supported";
    return false;
  }
  shape.clear();
  if (shp.size() < 2) {
    error = path + ": missing shape";
    return false;
  }
  std::stringstream ss(shp.substr(1, shp.size() - 2));
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.find_first_not_of(' ') == std::string::npos)
      continue;
    try {
      shape.push_back(std::stoll(item));
    } catch (...) {
      error = path + ": bad shape " + shp;
      return false;
    }
  }
  if (shape.empty() || shape.size() > 2) {
    error = path + ": shape " + shp + " has rank " + std::to_string(shape.size()) +
            "; expected [N, L] sequences or one [L] sequence of token ids";
    return false;
  }
  uint64_t n = 1;
  for (int64_t d : shape) {
    if (d <= 0) {
      error = path + ": shape " + shp + " is empty";
      return false;
    }
    n *= uint64_t(d);
  }
  size_t data = hoff + hlen;
  if (bytes.size() - data < n * es) {
    error = path + ": data is " + std::to_string(bytes.size() - data) + " bytes, shape " + shp +
            " needs " + std::to_string(n * es);
    return false;
  }
  values.resize(n);
  for (uint64_t i = 0; i < n; ++i) {
    const char *p = bytes.data() + data + i * es;
    double v;
    if (!isFloat && es == 8) { int64_t x; std::memcpy(&x, p, 8); v = double(x); }
    else if (!isFloat) { int32_t x; std::memcpy(&x, p, 4); v = x; }
    else if (es == 4) { float x; std::memcpy(&x, p, 4); v = x; }
    else { std::memcpy(&v, p, 8); }
    if (std::isnan(v)) {
      error = path + ": NaN at element " + std::to_string(i) + " (byte offset " +
              std::to_string(data + i * es) + ")";
      return false;
    }
    if (v != std::floor(v)) {
      error = path + ": element " + std::to_string(i) + " = " + std::to_string(v) +
              " is not a token id (not an integer)";
      return false;
    }
    values[i] = v;
  }
  return true;
}

} // namespace

bool loadCalibrationInput(const std::string &path, CalibFormat format, const rt::Tokenizer &tok,
                          int64_t count, int64_t length, int64_t vocab, CalibrationInput &out,
                          std::string &error) {
  out = CalibrationInput();
  if (count < 1 || length < 2) {
    error = "calibration needs at least 1 sequence of at least 2 tokens";
    return false;
  }
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    error = path + ": cannot open calibration file";
    return false;
  }
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (bytes.empty()) {
    error = path + ": calibration file is empty";
    return false;
  }
  if (format == CalibFormat::Auto)
    format = endsWith(path, ".npy") ? CalibFormat::Npy
             : endsWith(path, ".ids") || endsWith(path, ".tokens") ? CalibFormat::Ids
                                                                   : CalibFormat::Text;
  auto checkIds = [&](const std::vector<int64_t> &ids) {
    for (size_t i = 0; i < ids.size(); ++i)
      if (ids[i] < 0 || ids[i] >= vocab) {
        error = path + ": token id " + std::to_string(ids[i]) + " at position " +
                std::to_string(i) + " is outside the vocabulary [0, " + std::to_string(vocab) + ")";
        return false;
      }
    return true;
  };
  std::string base = path.substr(path.find_last_of('/') + 1);
  switch (format) {
  case CalibFormat::Text: {
    if (!tok.valid()) {
      error = path + ": text calibration needs the model's tokenizer (pass --tokenizer)";
      return false;
    }
    if (bytes.find_first_not_of(" \t\r\n") == std::string::npos) {
      error = path + ": calibration text is empty (only whitespace)";
      return false;
    }
    std::vector<int> ids = tok.encode(bytes, /*addBos=*/false);
    std::vector<int64_t> tokens(ids.begin(), ids.end());
    if (!cutWindows(path, tokens, tok.bosId(), count, length, out, error))
      return false;
    out.description = std::to_string(out.sequences.size()) + " x " + std::to_string(length) +
                      " tokens of " + base + " (text, " + std::to_string(tokens.size()) + " tokens)";
    return true;
  }
  case CalibFormat::Ids: {
    std::vector<int64_t> tokens;
    std::istringstream in(bytes);
    std::string word;
    size_t offset = 0;
    while (in >> word) {
      offset = bytes.find(word, offset);
      char *end = nullptr;
      long long v = std::strtoll(word.c_str(), &end, 10);
      if (!end || *end != '\0') {
        error = path + ": '" + word + "' at byte offset " + std::to_string(offset) +
                " is not a token id";
        return false;
      }
      tokens.push_back(v);
      offset += word.size();
    }
    if (tokens.empty()) {
      error = path + ": no token ids in the file";
      return false;
    }
    if (!checkIds(tokens) || !cutWindows(path, tokens, tok.valid() ? tok.bosId() : -1, count, length, out, error))
      return false;
    out.description = std::to_string(out.sequences.size()) + " x " + std::to_string(length) +
                      " tokens of " + base + " (token ids)";
    return true;
  }
  case CalibFormat::Npy:
  case CalibFormat::Auto: {
    std::vector<int64_t> shape;
    std::vector<double> values;
    if (!readNpy(path, bytes, shape, values, error))
      return false;
    int64_t rows = shape.size() == 2 ? shape[0] : 1, cols = shape.back();
    if (cols > length) {
      error = path + ": sequences of " + std::to_string(cols) + " tokens exceed --calib-len " +
              std::to_string(length) + " (the planned sequence bound)";
      return false;
    }
    // readNpy has rejected NaN and fractions; a float far outside int64
    // cannot even be converted, so it gets checkIds' message here.
    std::vector<int64_t> ids;
    ids.reserve(values.size());
    for (size_t i = 0; i < values.size(); ++i) {
      if (!(values[i] > -9.2e18 && values[i] < 9.2e18)) {
        char buf[32];
        std::snprintf(buf, sizeof(buf), "%.9g", values[i]);
        error = path + ": token id " + buf + " at position " + std::to_string(i) +
                " is outside the vocabulary [0, " + std::to_string(vocab) + ")";
        return false;
      }
      ids.push_back(int64_t(values[i]));
    }
    if (!checkIds(ids))
      return false;
    for (int64_t r = 0; r < std::min(rows, count); ++r)
      out.sequences.emplace_back(ids.begin() + r * cols, ids.begin() + (r + 1) * cols);
    out.description = std::to_string(out.sequences.size()) + " x " + std::to_string(cols) +
                      " tokens of " + base + " (.npy)";
    return true;
  }
  }
  return false;
}

bool loadSeq2SeqInput(const std::string &path, const rt::Model &model, int64_t skip,
                      int64_t count, int64_t length, CalibrationInput &out, std::string &error,
                      std::vector<rt::Example> *examplesOut) {
  out = CalibrationInput();
  rt::Tokenizer tok;
  if (!model.fb().tokenizer() || !tok.init(model.fb().tokenizer()).ok) {
    error = path + ": encoder-decoder calibration tokenizes its examples with the model's "
                   "tokenizer (compile with tokenizer.json beside the checkpoint)";
    return false;
  }
  rt::ReadExamplesOptions ro;
  ro.requireTarget = false;
  ro.skip = size_t(std::max<int64_t>(0, skip));
  ro.limit = size_t(std::max<int64_t>(0, count));
  std::vector<rt::Example> examples;
  rt::Status st = rt::readExamples(path, ro, examples);
  if (!st.ok) {
    error = st.message;
    return false;
  }
  const int start = rt::decoderStartId(model, tok);
  const bool greedy = examples[0].target.empty();
  std::unique_ptr<rt::Session> session;
  std::unique_ptr<rt::Generator> gen;
  if (greedy) {
    session = std::make_unique<rt::Session>(model);
    gen = std::make_unique<rt::Generator>(model, *session);
  }
  int cut = 0;
  int64_t tokens = 0;
  const std::vector<int> stop = rt::stopIds(tok);
  for (const rt::Example &ex : examples) {
    std::vector<int> src, dec, labels;
    if (greedy) {
      // Inputs only: the float model's own greedy outputs are the targets.
      src = tok.encode(ex.input, true);
      if (int64_t(src.size()) > length) {
        src.resize(size_t(length));
        ++cut;
      }
      rt::SamplingOptions g;
      g.greedy = true;
      rt::GenerateStats gs;
      std::vector<int> outIds;
      st = gen->generateSeq2Seq(src, start, int(length), g, stop, nullptr, outIds, gs);
      if (!st.ok) {
        error = path + ":" + std::to_string(ex.line) + ": greedy decoding: " + st.message;
        return false;
      }
      labels = outIds;
      if (!tok.eosIds().empty())
        labels.push_back(tok.eosIds()[0]);
      dec.assign(1, start);
      dec.insert(dec.end(), labels.begin(), labels.end() - 1);
    } else {
      rt::seq2seqTokens(tok, ex.input, ex.target, start, src, dec, labels);
    }
    if (int64_t(src.size()) > length || int64_t(dec.size()) > length) {
      ++cut;
      if (int64_t(src.size()) > length)
        src.resize(size_t(length));
      if (int64_t(dec.size()) > length) {
        dec.resize(size_t(length));
        labels.resize(size_t(length));
      }
    }
    tokens += int64_t(dec.size());
    out.sources.emplace_back(src.begin(), src.end());
    out.sequences.emplace_back(dec.begin(), dec.end());
    out.labels.emplace_back(labels.begin(), labels.end());
  }
  std::string base = path.substr(path.find_last_of('/') + 1);
  out.description = std::to_string(examples.size()) + " examples of " + base + " (" +
                    std::to_string(tokens) + " decoder tokens, " +
                    (greedy ? "targets = the float model's greedy outputs"
                            : "decoder teacher-forced on the targets") +
                    (cut ? ", " + std::to_string(cut) + " cut to " + std::to_string(length) +
                               " tokens"
                         : std::string()) +
                    ")";
  if (examplesOut)
    *examplesOut = std::move(examples);
  return true;
}

bool runExample(rt::Session &session, const CalibrationInput &input, size_t i,
                std::vector<rt::HostTensor> &outs, std::string &error) {
  const std::vector<int64_t> &seq = input.sequences[i];
  rt::TensorRef ids{rt::DType::I64, {1, int64_t(seq.size())}, const_cast<int64_t *>(seq.data())};
  outs.clear();
  session.resetState();
  rt::Status st;
  if (input.seq2seq()) {
    std::vector<rt::HostTensor> enc;
    bool padded = false;
    st = rt::runEncoder(session.model(), session, input.sources[i], enc, padded);
    if (st.ok)
      st = session.run("decode_full", {ids, enc[0].ref()}, outs);
  } else {
    st = session.run("main", {ids}, outs);
  }
  if (st.ok && (outs.empty() || outs[0].dtype != rt::DType::F32 || outs[0].shape.size() != 3 ||
                outs[0].shape[1] != int64_t(seq.size())))
    st = rt::Status::error("the logits program must return float logits [1, " +
                           std::to_string(seq.size()) + ", vocab]");
  if (!st.ok) {
    error = st.message;
    return false;
  }
  return true;
}

bool collectStats(const rt::Model &model, const CalibrationInput &input,
                  const std::set<std::string> &gramTensors, CalibrationStats &stats,
                  const std::function<void(size_t, size_t)> &progress, std::string &error) {
  rt::Session session(model);
  std::string nanTensor;
  session.setObserver([&](const std::string &name, rt::TensorRef &t) {
    if (t.dtype != rt::DType::F32 || t.quant)
      return;
    TensorStats &s = stats.tensors[name];
    uint64_t nans = s.nans;
    s.observe(static_cast<const float *>(t.data), t.numel(), t.shape.empty() ? 0 : t.shape.back());
    if (gramTensors.count(name) && !t.shape.empty())
      s.observeGram(static_cast<const float *>(t.data), t.numel(), t.shape.back());
    if (s.nans != nans && nanTensor.empty())
      nanTensor = name;
  });
  // Swappable adapters: every example runs with the base and with each
  // adapter, so the ranges cover whichever the runtime selects.
  std::vector<std::string> configs{""};
  for (const std::string &n : model.adapterNames())
    configs.push_back(n);
  const size_t total = input.sequences.size() * configs.size();
  size_t done = 0;
  for (const std::string &adapter : configs) {
    rt::Status sa = session.setAdapter(adapter);
    if (!sa.ok) {
      error = sa.message;
      return false;
    }
    std::string with = adapter.empty() ? "" : " (adapter '" + adapter + "')";
    for (size_t i = 0; i < input.sequences.size(); ++i) {
      std::vector<rt::HostTensor> outs;
      std::string why;
      if (!runExample(session, input, i, outs, why)) {
        error = "calibration " + std::string(input.seq2seq() ? "example " : "sequence ") +
                std::to_string(i) + with + ": " + why;
        return false;
      }
      if (!nanTensor.empty()) {
        error = "calibration sequence " + std::to_string(i) + with +
                ": the float model produced NaN in '" + nanTensor + "'";
        return false;
      }
      if (progress)
        progress(++done, total);
    }
  }
  stats.sequences = int64_t(input.sequences.size());
  stats.seqLen = 0;
  for (const std::vector<int64_t> &s : input.sequences)
    stats.seqLen = std::max<int64_t>(stats.seqLen, int64_t(s.size()));
  stats.source = input.description;
  if (configs.size() > 1)
    stats.source += " (base + " + std::to_string(configs.size() - 1) + " adapter(s))";
  return true;
}

} // namespace quant
} // namespace mu
