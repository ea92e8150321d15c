//===- Generate.cpp - sampling and the generation loop ---------------------===//
#include "mu/runtime/Generate.h"

#include "mub_generated.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>

namespace mu {
namespace rt {

int Sampler::sample(const float *logits, int n) {
  int best = int(std::max_element(logits, logits + n) - logits);
  if (opts_.greedy || opts_.temperature <= 0.0f)
    return best;
  // Candidates: every token, or the k most likely (as a set, unordered).
  // Order: probability descending, ties by id (a total order, so a sorted
  // prefix is the same however far the sort went).
  auto before = [&](int a, int b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  };
  std::vector<int> &idx = candidates_;
  idx.resize(size_t(n));
  std::iota(idx.begin(), idx.end(), 0);
  int k = opts_.topK > 0 ? std::min(opts_.topK, n) : n;
  if (k < n) {
    std::nth_element(idx.begin(), idx.begin() + (k - 1), idx.end(), before);
    idx.resize(size_t(k));
  }
  const double mx = logits[best], t = opts_.temperature;
  auto weight = [&](int id) { return std::exp((double(logits[id]) - mx) / t); };
  double sum = 0;
  for (int id : idx)
    sum += weight(id);
  // Sort lazily: [0, sorted) is in order; grow it geometrically on demand.
  int sorted = 0;
  auto ensure = [&](int i) {
    while (i >= sorted) {
      int next = std::min(k, std::max(64, 2 * sorted));
      std::partial_sort(idx.begin() + sorted, idx.begin() + next, idx.end(), before);
      sorted = next;
    }
  };
  // Nucleus: the smallest prefix whose mass reaches top_p.
  int keep = k;
  double total = sum;
  if (opts_.topP < 1.0f) {
    double acc = 0;
    for (int i = 0; i < k; ++i) {
      ensure(i);
      acc += weight(idx[size_t(i)]);
      if (acc / sum >= opts_.topP) {
        keep = i + 1;
        total = acc;
        break;
      }
    }
  }
  double r = std::uniform_real_distribution<double>(0.0, total)(rng_);
  for (int i = 0; i < keep; ++i) {
    ensure(i);
    r -= weight(idx[size_t(i)]);
    if (r <= 0)
      return idx[size_t(i)];
  }
  ensure(keep - 1);
  return idx[size_t(keep - 1)];
}

Status Generator::logits(const std::vector<int> &ids, std::vector<float> &out, int64_t &vocab) {
  HostTensor in = HostTensor::make(DType::I64, {1, int64_t(ids.size())});
  for (size_t i = 0; i < ids.size(); ++i)
    in.as<int64_t>()[i] = ids[i];
  // An exported encoder-decoder graph takes two token inputs (source and
  // decoder ids): both get `ids`.
  std::vector<TensorRef> inputs;
  if (const mub::Program *p = model_.program("main"))
    for (uint32_t i = 0; p->inputs() && i < p->inputs()->size(); ++i)
      inputs.push_back(in.ref());
  if (inputs.empty())
    inputs.push_back(in.ref());
  std::vector<HostTensor> outs;
  Status s = session_.run("main", inputs, outs);
  if (!s.ok)
    return s;
  if (outs.empty() || outs[0].dtype != DType::F32 || outs[0].shape.size() != 3)
    return Status::error("program 'main' must return float logits [1, seq, vocab]");
  vocab = outs[0].shape[2];
  out.assign(outs[0].as<float>(), outs[0].as<float>() + outs[0].shape[1] * vocab);
  return Status::success();
}

bool Generator::isEncoderDecoder() const { return model_.program("encode") != nullptr; }

int64_t Generator::staticSeq(const char *program) const {
  const mub::Program *p = model_.program(program);
  if (!p || !p->inputs() || p->inputs()->size() < 3 || !p->tensors())
    return 0;
  const mub::Tensor *ids = p->tensors()->Get(p->inputs()->Get(0));
  if (!ids->shape() || ids->shape()->size() != 2 || ids->shape()->Get(1) < 1)
    return 0;
  return ids->shape()->Get(1);
}

Status Generator::runLogits(const char *program, std::vector<TensorRef> inputs, size_t n,
                            std::vector<float> &last, int64_t &vocab) {
  std::vector<HostTensor> outs;
  Status s = session_.run(program, inputs, outs);
  if (!s.ok)
    return s;
  if (outs.empty() || outs[0].dtype != DType::F32 || outs[0].shape.size() != 3 ||
      outs[0].shape[1] < 1)
    return Status::error(std::string("program '") + program + "' must return float logits [1, seq, vocab]");
  // Cached programs return the last position only ([1, 1, vocab]); full
  // programs every position: row n - 1 is the next token's (a padded static
  // chunk holds n valid tokens).
  vocab = outs[0].shape[2];
  int64_t row = std::max<int64_t>(0, std::min<int64_t>(int64_t(n), outs[0].shape[1]) - 1);
  const float *l = outs[0].as<float>() + row * vocab;
  last.assign(l, l + vocab);
  return Status::success();
}

Status Generator::step(const std::vector<int> &ids, size_t from, bool cached,
                       std::vector<float> &last, int64_t &vocab) {
  bool seq2seq = isEncoderDecoder();
  if (!cached) {
    if (seq2seq) {
      HostTensor in = HostTensor::make(DType::I64, {1, int64_t(ids.size())});
      for (size_t i = 0; i < ids.size(); ++i)
        in.as<int64_t>()[i] = ids[i];
      return runLogits("decode_full", {in.ref(), encoded_.ref()}, ids.size(), last, vocab);
    }
    std::vector<float> all;
    Status s = logits(ids, all, vocab);
    if (!s.ok)
      return s;
    last.assign(all.end() - vocab, all.end());
    return Status::success();
  }
  // Feed ids[from..] through prefill (chunks of max_seq) or decode (1 token).
  // A static-shape prefill (mu-static-shapes) takes exactly `fixed` tokens:
  // the last chunk is padded and its valid length passed; near the end of
  // the cache the chunk starts earlier instead, re-feeding cached tokens
  // (their rows are recomputed to the same values).
  int64_t chunkMax = std::max<int32_t>(1, model_.fb().max_seq());
  int64_t fixed = seq2seq ? 0 : staticSeq("prefill");
  if (fixed > 0)
    chunkMax = fixed;
  const size_t maxCtx = size_t(model_.fb().max_ctx());
  for (size_t at = from; at < ids.size();) {
    size_t n = std::min<size_t>(ids.size() - at, size_t(chunkMax));
    const char *prog = (n == 1 || seq2seq) ? "decode" : "prefill";
    if (at + n > maxCtx)
      return Status::error("context is full: " + std::to_string(at + n) + " tokens exceed the " +
                           std::to_string(maxCtx) +
                           "-token KV cache (recompile with a larger --max-ctx)");
    bool padded = fixed > 0 && n > 1;
    size_t start = at, width = n;
    if (padded) {
      width = size_t(fixed);
      if (start + width > maxCtx)
        start = width > maxCtx ? 0 : maxCtx - width;
    }
    size_t valid = at + n - start;
    HostTensor in = HostTensor::make(DType::I64, {1, int64_t(width)});
    for (size_t i = 0; i < width; ++i)
      in.as<int64_t>()[i] = i < valid ? ids[start + i] : 0; // padding: any id
    HostTensor pos = HostTensor::make(DType::I64, {});
    *pos.as<int64_t>() = int64_t(start);
    // Scalar inputs point at locals: no allocation per step for them.
    int64_t validCount = int64_t(valid), sourceCount = sourceLength_;
    std::vector<TensorRef> inputs{in.ref(), pos.ref()};
    if (padded)
      inputs.push_back(TensorRef{DType::I64, {}, &validCount});
    if (seq2seq && sourceLength_ >= 0)
      inputs.push_back(TensorRef{DType::I64, {}, &sourceCount});
    Status s = runLogits(prog, inputs, valid, last, vocab);
    if (!s.ok)
      return s;
    at += n;
  }
  return Status::success();
}

Status Generator::begin(const std::vector<int> &prompt) {
  if (isEncoderDecoder())
    return Status::error("stepwise decoding needs a decoder-only artifact");
  if (prompt.empty())
    return Status::error("the prompt is empty (no tokens)");
  stepCached_ = useCache_ && model_.program("prefill") != nullptr;
  if (stepCached_)
    session_.resetState();
  seq_ = prompt;
  int64_t vocab = 0;
  Status s = step(seq_, 0, stepCached_, last_, vocab);
  stepFed_ = seq_.size();
  return s;
}

Status Generator::push(int token) {
  if (seq_.empty())
    return Status::error("push() before begin()");
  seq_.push_back(token);
  int64_t vocab = 0;
  Status s = step(seq_, stepFed_, stepCached_, last_, vocab);
  if (!s.ok) {
    seq_.pop_back();
    return s;
  }
  stepFed_ = seq_.size();
  return s;
}

Status Generator::teacherForcedArgmax(const std::vector<int> &ids, std::vector<int> &top1) {
  if (isEncoderDecoder() || !model_.program("decode"))
    return Status::error("teacher forcing needs a decoder-only artifact with a decode program");
  if (ids.size() > size_t(model_.fb().max_ctx()))
    return Status::error(std::to_string(ids.size()) + " tokens exceed the " +
                         std::to_string(model_.fb().max_ctx()) + "-token KV cache");
  session_.resetState();
  top1.clear();
  std::vector<float> last;
  int64_t vocab = 0;
  HostTensor in = HostTensor::make(DType::I64, {1, 1});
  HostTensor pos = HostTensor::make(DType::I64, {});
  for (size_t j = 0; j < ids.size(); ++j) {
    *in.as<int64_t>() = ids[j];
    *pos.as<int64_t>() = int64_t(j);
    Status s = runLogits("decode", {in.ref(), pos.ref()}, 1, last, vocab);
    if (!s.ok)
      return s;
    top1.push_back(int(std::max_element(last.begin(), last.end()) - last.begin()));
  }
  return Status::success();
}

Status Generator::decodeLoop(std::vector<int> &seq, bool cached, int maxNew,
                             const SamplingOptions &opts, const std::vector<int> &stopIds,
                             const std::function<void(int)> &onToken, GenerateStats &stats,
                             std::chrono::steady_clock::time_point t0) {
  using Clock = std::chrono::steady_clock;
  Sampler sampler(opts);
  auto tFirst = t0;
  std::vector<float> lg;
  int64_t vocab = 0;
  size_t fed = 0;
  for (int i = 0; i < maxNew; ++i) {
    Status s = step(seq, fed, cached, lg, vocab);
    if (!s.ok)
      return s;
    fed = seq.size();
    int next = sampler.sample(lg.data(), int(vocab));
    if (i == 0)
      tFirst = Clock::now();
    if (std::find(stopIds.begin(), stopIds.end(), next) != stopIds.end())
      break;
    seq.push_back(next);
    ++stats.generatedTokens;
    if (onToken)
      onToken(next);
  }
  auto t1 = Clock::now();
  stats.ttftMs = std::chrono::duration<double, std::milli>(tFirst - t0).count();
  stats.decodeMs = std::chrono::duration<double, std::milli>(t1 - tFirst).count();
  stats.tokensPerS = stats.generatedTokens > 1 && stats.decodeMs > 0
                         ? (stats.generatedTokens - 1) / (stats.decodeMs / 1000.0)
                         : 0;
  stats.peakBytes = session_.peakBytes() + model_.fileSize();
  return Status::success();
}

Status Generator::generate(std::vector<int> &ids, int maxNew, const SamplingOptions &opts,
                           const std::vector<int> &stopIds,
                           const std::function<void(int)> &onToken, GenerateStats &stats) {
  auto t0 = std::chrono::steady_clock::now();
  stats.promptTokens = int(ids.size());
  bool cached = useCache_ && model_.program("prefill") != nullptr;
  if (cached)
    session_.resetState();
  return decodeLoop(ids, cached, maxNew, opts, stopIds, onToken, stats, t0);
}

} // namespace rt
} // namespace mu

namespace mu {
namespace rt {

Status runEncoder(const Model &model, Session &session, const std::vector<int64_t> &source,
                  std::vector<HostTensor> &outs, bool &padded) {
  // A static-shape encoder (mu-static-shapes) takes the source padded to its
  // fixed length plus the valid count.
  const mub::Program *ep = model.program("encode");
  int64_t fixed = 0;
  if (ep && ep->inputs() && ep->inputs()->size() == 2) {
    const mub::Tensor *t = ep->tensors()->Get(ep->inputs()->Get(0));
    if (t->shape() && t->shape()->size() == 2 && t->shape()->Get(1) > 0)
      fixed = t->shape()->Get(1);
  }
  padded = fixed > 0;
  if (source.empty())
    return Status::error("the source is empty (no tokens)");
  if (padded && int64_t(source.size()) > fixed)
    return Status::error("the source has " + std::to_string(source.size()) +
                         " tokens; this static-shape encoder takes at most " +
                         std::to_string(fixed) + " (recompile with a larger --prefill-chunk)");
  int64_t width = padded ? fixed : int64_t(source.size());
  HostTensor src = HostTensor::make(DType::I64, {1, width});
  for (int64_t i = 0; i < width; ++i)
    src.as<int64_t>()[i] = i < int64_t(source.size()) ? source[size_t(i)] : 0; // padding: any id
  HostTensor len = HostTensor::make(DType::I64, {});
  *len.as<int64_t>() = int64_t(source.size());
  std::vector<TensorRef> in{src.ref()};
  if (padded)
    in.push_back(len.ref());
  Status s = session.run("encode", in, outs);
  if (!s.ok)
    return s;
  if (outs.empty())
    return Status::error("program 'encode' returned nothing");
  HostTensor &enc = outs[0];
  if (padded && enc.shape.size() == 3 && enc.shape[1] == width) {
    // Consumers of the encoder output (decode_full) read it unmasked: keep
    // the valid rows only.
    size_t row = size_t(enc.shape[2]) * dtypeSize(enc.dtype);
    enc.shape[1] = int64_t(source.size());
    enc.storage.resize(row * source.size());
  }
  return Status::success();
}

Status Generator::generateSeq2Seq(const std::vector<int> &source, int decoderStart, int maxNew,
                                  const SamplingOptions &opts, const std::vector<int> &stopIds,
                                  const std::function<void(int)> &onToken, std::vector<int> &out,
                                  GenerateStats &stats) {
  if (!isEncoderDecoder())
    return Status::error("not an encoder-decoder artifact (no 'encode' program)");
  auto t0 = std::chrono::steady_clock::now();
  session_.resetState();
  std::vector<int64_t> src(source.begin(), source.end());
  std::vector<HostTensor> outs;
  bool padded = false;
  Status s = runEncoder(model_, session_, src, outs, padded); // output + cross K/V state
  if (!s.ok)
    return s;
  sourceLength_ = padded ? int64_t(source.size()) : -1;
  encoded_ = std::move(outs[0]);
  bool cached = useCache_ && model_.program("decode_full") != nullptr;
  std::vector<int> dec{decoderStart};
  stats.promptTokens = int(source.size());
  s = decodeLoop(dec, cached, maxNew, opts, stopIds, onToken, stats, t0);
  out.assign(dec.begin() + 1, dec.end());
  return s;
}

Status Generator::teacherForcedSeq2Seq(const std::vector<int> &source,
                                       const std::vector<int> &decoderIds,
                                       std::vector<float> &logits, int64_t &vocab) {
  if (decoderIds.empty())
    return Status::error("teacher forcing needs at least the decoder start token");
  SamplingOptions greedy;
  greedy.greedy = true;
  std::vector<int> unused;
  GenerateStats st;
  Status s = generateSeq2Seq(source, decoderIds[0], 0, greedy, {}, nullptr, unused, st); // encode
  if (!s.ok)
    return s;
  logits.clear();
  std::vector<int> dec;
  std::vector<float> last;
  for (size_t j = 0; j < decoderIds.size(); ++j) {
    dec.push_back(decoderIds[j]);
    s = step(dec, j, true, last, vocab);
    if (!s.ok)
      return s;
    logits.insert(logits.end(), last.begin(), last.end());
  }
  return Status::success();
}

Status Generator::verifyCache(const std::vector<int> &prompt, int decoderStart, int steps,
                              double &maxAbsDiff, int &argmaxMismatches) {
  maxAbsDiff = 0;
  argmaxMismatches = 0;
  bool seq2seq = isEncoderDecoder();
  if (!model_.program(seq2seq ? "decode_full" : "prefill"))
    return Status::error("artifact has no KV-cache programs to verify (compiled with --no-kv-cache?)");
  std::vector<int> ids = seq2seq ? std::vector<int>{decoderStart} : prompt;
  if (seq2seq) {
    SamplingOptions greedy;
    greedy.greedy = true;
    std::vector<int> unused;
    GenerateStats st;
    Status s = generateSeq2Seq(prompt, decoderStart, 0, greedy, {}, nullptr, unused, st);
    if (!s.ok)
      return s;
  } else {
    session_.resetState();
  }
  std::vector<float> cachedL, fullL;
  int64_t vocab = 0;
  size_t fed = 0;
  for (int i = 0; i < steps; ++i) {
    Status s = step(ids, fed, true, cachedL, vocab);
    if (!s.ok)
      return s;
    fed = ids.size();
    s = step(ids, 0, false, fullL, vocab);
    if (!s.ok)
      return s;
    for (int64_t v = 0; v < vocab; ++v)
      maxAbsDiff = std::max(maxAbsDiff, double(std::fabs(cachedL[v] - fullL[v])));
    int a = int(std::max_element(cachedL.begin(), cachedL.end()) - cachedL.begin());
    int b = int(std::max_element(fullL.begin(), fullL.end()) - fullL.begin());
    argmaxMismatches += a != b;
    ids.push_back(b);
  }
  return Status::success();
}

} // namespace rt
} // namespace mu
