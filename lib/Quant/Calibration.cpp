//===- Calibration.cpp - activation statistics and range selection --------===//
#include "mu/Quant/Calibration.h"

#include "JsonFile.h"

#include "llvm/Support/JSON.h"

#include <Eigen/Core>
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace mu {
namespace quant {

void TensorStats::observe(const float *x, int64_t n, int64_t channels) {
  if (n <= 0)
    return;
  double bmin = std::numeric_limits<double>::infinity(), bmax = -bmin;
  for (int64_t i = 0; i < n; ++i) {
    float v = x[i];
    if (std::isnan(v)) {
      ++nans;
      continue;
    }
    bmin = std::min(bmin, double(v));
    bmax = std::max(bmax, double(v));
  }
  if (bmin > bmax) // all NaN
    return;
  if (batches == 0) {
    min = emaMin = bmin;
    max = emaMax = bmax;
    pos.assign(kBins, 0);
    neg.assign(kBins, 0);
  } else {
    min = std::min(min, bmin);
    max = std::max(max, bmax);
    emaMin += kAveraging * (bmin - emaMin);
    emaMax += kAveraging * (bmax - emaMax);
  }
  ++batches;
  // Grow the histogram range by merging bin pairs until it covers amax.
  double amax = std::max(std::fabs(bmin), std::fabs(bmax));
  if (binWidth == 0 && amax > 0)
    binWidth = amax / kBins * 1.0000001;
  while (binWidth > 0 && amax >= binWidth * kBins) {
    for (auto *h : {&pos, &neg}) {
      for (int i = 0; i < kBins / 2; ++i)
        (*h)[i] = (*h)[2 * i] + (*h)[2 * i + 1];
      std::fill(h->begin() + kBins / 2, h->end(), 0);
    }
    binWidth *= 2;
  }
  for (int64_t i = 0; i < n; ++i) {
    float v = x[i];
    if (std::isnan(v))
      continue;
    double a = std::fabs(double(v));
    int b = binWidth > 0 ? int(std::min<double>(a / binWidth, kBins - 1)) : 0;
    (v < 0 ? neg : pos)[b]++;
  }
  count += uint64_t(n);
  // Per-channel extremes along the last dim.
  if (channels > 0 && n % channels == 0) {
    if (batches == 1) {
      chMin.assign(size_t(channels), std::numeric_limits<float>::infinity());
      chSum.assign(size_t(channels), 0.0);
      chMax.assign(size_t(channels), -std::numeric_limits<float>::infinity());
    }
    if (batches > 1 && chMin.size() != size_t(channels)) {
      chMin.clear(); // the last dim varies: no per-channel statistics
      chMax.clear();
      chSum.clear();
    } else if (chMin.size() == size_t(channels)) {
      for (int64_t i = 0; i < n; ++i) {
        float v = x[i];
        if (std::isnan(v))
          continue;
        size_t c = size_t(i % channels);
        chMin[c] = std::min(chMin[c], v);
        chMax[c] = std::max(chMax[c], v);
        chSum[c] += double(v);
      }
    }
  } else {
    chMin.clear();
    chMax.clear();
    chSum.clear();
  }
}

void TensorStats::observeGram(const float *x, int64_t n, int64_t dim) {
  if (dim <= 0 || n % dim != 0)
    return;
  if (gramDim != dim) {
    if (gramDim != 0)
      return; // the last dim changed: not a linear input
    gramDim = dim;
    gram.assign(size_t(dim * dim), 0.0);
  }
  using Mat = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> X(
      x, n / dim, dim);
  Eigen::Map<Mat> G(gram.data(), dim, dim);
  Mat Xd = X.cast<double>();
  G.noalias() += Xd.transpose() * Xd;
}

bool parseRangeMethod(const std::string &name, RangeMethod &out) {
  for (RangeMethod m : {RangeMethod::MinMax, RangeMethod::MovingAverage, RangeMethod::Percentile,
                        RangeMethod::Entropy, RangeMethod::Mse})
    if (name == rangeMethodName(m)) {
      out = m;
      return true;
    }
  return false;
}

const char *rangeMethodName(RangeMethod m) {
  switch (m) {
  case RangeMethod::MinMax: return "minmax";
  case RangeMethod::MovingAverage: return "moving-average";
  case RangeMethod::Percentile: return "percentile";
  case RangeMethod::Entropy: return "entropy";
  case RangeMethod::Mse: return "mse";
  }
  return "?";
}

QParams chooseParams(Range r, const Encoding &e) {
  if (!e.isUnsigned && !e.powerOfTwo)
    return chooseParams(r, e.bits, e.symmetric);
  QParams p;
  if (e.powerOfTwo) {
    // Symmetric, scale = the smallest power of two whose narrow range
    // covers max|x| (the caller searches smaller exponents for less error).
    p = chooseParams(r, e.bits, true);
    double amax = p.scale * double(p.qmax);
    p.scale = amax > 0 ? std::exp2(std::ceil(std::log2(amax / double(p.qmax)))) : 1.0;
    return p;
  }
  // Unsigned asymmetric: [0, 2^b - 1] with an integer zero point, the
  // signed full-range parameters shifted by 2^(b-1).
  p = chooseParams(r, e.bits, false);
  int64_t half = int64_t(1) << (e.bits - 1);
  p.zeroPoint += half;
  p.qmin += half;
  p.qmax += half;
  return p;
}

QParams chooseParams(Range r, int bits, bool symmetric) {
  QParams p;
  double lo = std::min(r.lo, 0.0), hi = std::max(r.hi, 0.0);
  if (symmetric) {
    p.qmax = (int64_t(1) << (bits - 1)) - 1;
    p.qmin = -p.qmax;
    double amax = std::max(-lo, hi);
    p.scale = amax > 0 ? amax / double(p.qmax) : 1.0;
    p.zeroPoint = 0;
    return p;
  }
  p.qmin = -(int64_t(1) << (bits - 1));
  p.qmax = (int64_t(1) << (bits - 1)) - 1;
  if (hi - lo <= 0) {
    p.scale = 1.0;
    p.zeroPoint = 0;
    return p;
  }
  p.scale = (hi - lo) / double(p.qmax - p.qmin);
  double zp = double(p.qmin) - lo / p.scale;
  p.zeroPoint = std::clamp<int64_t>(int64_t(std::nearbyint(zp)), p.qmin, p.qmax);
  return p;
}

namespace {

/// Centre of histogram bin i.
double centre(const TensorStats &s, int i) { return (i + 0.5) * s.binWidth; }

double quantDequant(double v, const QParams &p) {
  double q = std::nearbyint(v / p.scale) + double(p.zeroPoint);
  q = std::clamp<double>(q, double(p.qmin), double(p.qmax));
  return (q - double(p.zeroPoint)) * p.scale;
}

/// Magnitude below which all but `tail` of one side's mass lies.
double tailThreshold(const std::vector<uint64_t> &h, double width, double tail, double extreme) {
  double acc = 0;
  for (int i = TensorStats::kBins - 1; i >= 0; --i) {
    acc += double(h[i]);
    if (acc > tail)
      return std::min(extreme, (i + 1) * width);
  }
  return 0;
}

/// TensorRT's entropy calibration on the |x| histogram: the threshold whose
/// clipped, `levels`-bucket quantized distribution is closest (KL) to the
/// original.
double entropyThreshold(const TensorStats &s, int64_t levels) {
  const int B = TensorStats::kBins;
  std::vector<double> h(B);
  for (int i = 0; i < B; ++i)
    h[i] = double(s.pos[i] + s.neg[i]);
  int last = B;
  while (last > 0 && h[last - 1] == 0)
    --last;
  if (last <= levels)
    return last * s.binWidth;
  double best = std::numeric_limits<double>::infinity();
  int bestI = last;
  std::vector<double> p, q;
  for (int i = int(levels); i <= last; ++i) {
    p.assign(h.begin(), h.begin() + i);
    double outliers = 0;
    for (int j = i; j < last; ++j)
      outliers += h[j];
    p[i - 1] += outliers;
    // Quantize p[0:i] into `levels` buckets, spread back over non-empty bins.
    q.assign(size_t(i), 0);
    for (int64_t b = 0; b < levels; ++b) {
      int start = int(b * i / levels), stop = int((b + 1) * i / levels);
      double sum = 0;
      int nonzero = 0;
      for (int j = start; j < stop; ++j) {
        sum += h[j];
        nonzero += h[j] != 0;
      }
      for (int j = start; j < stop; ++j)
        q[j] = h[j] != 0 ? sum / nonzero : 0;
    }
    double ps = 0, qs = 0;
    for (int j = 0; j < i; ++j) {
      ps += p[j];
      qs += q[j];
    }
    if (ps <= 0 || qs <= 0)
      continue;
    double kl = 0;
    for (int j = 0; j < i; ++j) {
      if (p[j] <= 0)
        continue;
      double pj = p[j] / ps, qj = q[j] / qs;
      kl += qj > 0 ? pj * std::log(pj / qj) : pj * 50.0; // unrepresented mass
    }
    if (kl < best) {
      best = kl;
      bestI = i;
    }
  }
  return (bestI + 0.5) * s.binWidth;
}

} // namespace

double histogramError(const TensorStats &s, const QParams &p) {
  double err = 0;
  if (s.pos.size() != size_t(TensorStats::kBins))
    return 0;
  for (int i = 0; i < TensorStats::kBins; ++i) {
    if (s.pos[i]) {
      double v = std::min(centre(s, i), s.max);
      double d = v - quantDequant(v, p);
      err += double(s.pos[i]) * d * d;
    }
    if (s.neg[i]) {
      double v = std::max(-centre(s, i), s.min);
      double d = v - quantDequant(v, p);
      err += double(s.neg[i]) * d * d;
    }
  }
  return err;
}

Range chooseRange(const TensorStats &s, const RangeOptions &o) {
  Range r{std::min(s.min, 0.0), std::max(s.max, 0.0)};
  if (s.batches == 0 || s.binWidth == 0)
    return r;
  switch (o.method) {
  case RangeMethod::MinMax:
    break;
  case RangeMethod::MovingAverage:
    r = {std::min(s.emaMin, 0.0), std::max(s.emaMax, 0.0)};
    break;
  case RangeMethod::Percentile: {
    double tail = (1.0 - o.percentile / 100.0) * double(s.count);
    r.hi = tailThreshold(s.pos, s.binWidth, tail, std::max(s.max, 0.0));
    r.lo = -tailThreshold(s.neg, s.binWidth, tail, std::max(-s.min, 0.0));
    break;
  }
  case RangeMethod::Entropy: {
    double t = entropyThreshold(s, int64_t(1) << (o.bits - 1));
    r = {std::max(r.lo, -t), std::min(r.hi, t)};
    break;
  }
  case RangeMethod::Mse: {
    // Shrink [min, max] by a factor; keep the one with the least error.
    double best = std::numeric_limits<double>::infinity();
    Range full = r;
    for (int k = 0; k <= 90; ++k) {
      double a = 1.0 - 0.01 * k;
      Range c{full.lo * a, full.hi * a};
      double e = histogramError(s, chooseParams(c, Encoding{o.bits, o.symmetric, o.isUnsigned}));
      if (e < best) {
        best = e;
        r = c;
      }
    }
    break;
  }
  }
  return r;
}

//===----------------------------------------------------------------------===//
// JSON
//===----------------------------------------------------------------------===//

namespace {

llvm::json::Array countsJson(const std::vector<uint64_t> &h) {
  size_t n = h.size();
  while (n > 0 && h[n - 1] == 0)
    --n;
  llvm::json::Array a;
  for (size_t i = 0; i < n; ++i)
    a.push_back(int64_t(h[i]));
  return a;
}

llvm::json::Array floatsJson(const std::vector<float> &v) {
  llvm::json::Array a;
  for (float f : v)
    a.push_back(double(f));
  return a;
}

} // namespace

std::string CalibrationStats::toJson() const {
  llvm::json::Object tensorsObj;
  for (const auto &[name, s] : tensors) {
    tensorsObj[name] = llvm::json::Object{
        {"min", s.min}, {"max", s.max}, {"ema_min", s.emaMin}, {"ema_max", s.emaMax},
        {"count", int64_t(s.count)}, {"batches", int64_t(s.batches)}, {"nans", int64_t(s.nans)},
        {"bin_width", s.binWidth}, {"pos", countsJson(s.pos)}, {"neg", countsJson(s.neg)},
        {"channel_min", floatsJson(s.chMin)}, {"channel_max", floatsJson(s.chMax)},
        {"channel_sum", llvm::json::Array(s.chSum)}};
    if (s.gramDim > 0) {
      llvm::json::Array g; // upper triangle, row by row
      for (int64_t i = 0; i < s.gramDim; ++i)
        for (int64_t j = i; j < s.gramDim; ++j)
          g.push_back(s.gram[size_t(i * s.gramDim + j)]);
      llvm::json::Object &o = *tensorsObj.getObject(name);
      o["gram_dim"] = s.gramDim;
      o["gram"] = std::move(g);
    }
  }
  llvm::json::Object root{{"format", "mu-calibration-stats"},
                          {"version", 1},
                          {"source", source},
                          {"model_sha256", modelSha256},
                          {"sequences", sequences},
                          {"seq_len", seqLen},
                          {"bins", TensorStats::kBins},
                          {"tensors", std::move(tensorsObj)}};
  if (!smoothing.empty()) {
    llvm::json::Object sm;
    for (const auto &[name, f] : smoothing)
      sm[name] = llvm::json::Array(f);
    root["smooth_alpha"] = smoothAlpha;
    root["smoothing"] = std::move(sm);
  }
  std::string out;
  llvm::raw_string_ostream os(out);
  os << llvm::formatv("{0:1}", llvm::json::Value(std::move(root))) << "\n";
  return out;
}

bool CalibrationStats::fromJson(const std::string &text, CalibrationStats &out,
                                std::string &error) {
  std::optional<llvm::json::Value> v =
      parseDocument(text, "mu-calibration-stats", "a mu calibration statistics file", error);
  if (!v)
    return false;
  const llvm::json::Object *root = v->getAsObject();
  if (root->getInteger("version") != 1 || root->getInteger("bins") != TensorStats::kBins) {
    error = "unsupported statistics version or histogram size";
    return false;
  }
  out = CalibrationStats();
  if (auto s = root->getString("source")) out.source = s->str();
  if (auto s = root->getString("model_sha256")) out.modelSha256 = s->str();
  out.sequences = root->getInteger("sequences").value_or(0);
  out.seqLen = root->getInteger("seq_len").value_or(0);
  if (const llvm::json::Object *sm = root->getObject("smoothing")) {
    out.smoothAlpha = root->getNumber("smooth_alpha").value_or(0);
    for (const auto &kv : *sm) {
      const llvm::json::Array *a = kv.second.getAsArray();
      std::vector<double> f;
      for (size_t i = 0; a && i < a->size(); ++i) {
        auto d = (*a)[i].getAsNumber();
        if (!d || !(*d > 0)) {
          error = "smoothing factors of '" + kv.first.str() + "' must be positive numbers";
          return false;
        }
        f.push_back(*d);
      }
      out.smoothing[kv.first.str()] = f;
    }
  }
  const llvm::json::Object *ts = root->getObject("tensors");
  if (!ts) {
    error = "missing \"tensors\"";
    return false;
  }
  for (const auto &kv : *ts) {
    std::string name = kv.first.str();
    const llvm::json::Object *o = kv.second.getAsObject();
    auto bad = [&](const std::string &what) {
      error = "tensor '" + name + "': " + what;
      return false;
    };
    if (!o)
      return bad("not an object");
    TensorStats s;
    auto num = [&](const char *key, double &dst) {
      auto d = o->getNumber(key);
      if (!d || !std::isfinite(*d))
        return false;
      dst = *d;
      return true;
    };
    double count = 0, batches = 0, nans = 0;
    if (!num("min", s.min) || !num("max", s.max) || !num("ema_min", s.emaMin) ||
        !num("ema_max", s.emaMax) || !num("bin_width", s.binWidth) || !num("count", count) ||
        !num("batches", batches) || !num("nans", nans) || s.min > s.max || s.binWidth < 0)
      return bad("missing or invalid min/max/ema/bin_width/count");
    s.count = uint64_t(count);
    s.batches = uint64_t(batches);
    s.nans = uint64_t(nans);
    for (auto [key, dst] : {std::pair{"pos", &s.pos}, std::pair{"neg", &s.neg}}) {
      const llvm::json::Array *a = o->getArray(key);
      if (!a || a->size() > size_t(TensorStats::kBins))
        return bad(std::string("bad histogram '") + key + "'");
      dst->assign(TensorStats::kBins, 0);
      for (size_t i = 0; i < a->size(); ++i) {
        auto c = (*a)[i].getAsInteger();
        if (!c || *c < 0)
          return bad(std::string("bad count in '") + key + "'");
        (*dst)[i] = uint64_t(*c);
      }
    }
    for (auto [key, dst] : {std::pair{"channel_min", &s.chMin}, std::pair{"channel_max", &s.chMax}}) {
      if (const llvm::json::Array *a = o->getArray(key))
        for (const llvm::json::Value &e : *a) {
          auto d = e.getAsNumber();
          if (!d)
            return bad(std::string("bad value in '") + key + "'");
          dst->push_back(float(*d));
        }
    }
    if (const llvm::json::Array *a = o->getArray("channel_sum"))
      for (const llvm::json::Value &e : *a) {
        auto d = e.getAsNumber();
        if (!d)
          return bad("bad value in 'channel_sum'");
        s.chSum.push_back(*d);
      }
    if (s.chMin.size() != s.chMax.size() || (!s.chSum.empty() && s.chSum.size() != s.chMin.size()))
      return bad("channel_min, channel_max and channel_sum differ in length");
    if (auto dim = o->getInteger("gram_dim")) {
      const llvm::json::Array *g = o->getArray("gram");
      if (*dim <= 0 || *dim > 65536 || !g || int64_t(g->size()) != *dim * (*dim + 1) / 2)
        return bad("bad gram matrix");
      s.gramDim = *dim;
      s.gram.assign(size_t(*dim * *dim), 0.0);
      size_t k = 0;
      for (int64_t i = 0; i < *dim; ++i)
        for (int64_t j = i; j < *dim; ++j) {
          auto d = (*g)[k++].getAsNumber();
          if (!d)
            return bad("bad gram value");
          s.gram[size_t(i * *dim + j)] = s.gram[size_t(j * *dim + i)] = *d;
        }
    }
    out.tensors[name] = std::move(s);
  }
  return true;
}

std::string rangesToJson(const ActivationRanges &ranges) {
  llvm::json::Object ts;
  for (const auto &[name, r] : ranges)
  {
    llvm::json::Object o{{"lo", r.lo}, {"hi", r.hi}, {"bits", r.bits}, {"symmetric", r.symmetric}};
    if (r.isUnsigned)
      o["unsigned"] = true;
    if (r.powerOfTwo)
      o["power_of_two"] = true;
    if (!r.channelLo.empty()) {
      o["channel_lo"] = llvm::json::Array(r.channelLo);
      o["channel_hi"] = llvm::json::Array(r.channelHi);
    }
    ts[name] = std::move(o);
  }
  llvm::json::Object root{{"format", "mu-activation-ranges"}, {"tensors", std::move(ts)}};
  std::string out;
  llvm::raw_string_ostream os(out);
  os << llvm::formatv("{0:1}", llvm::json::Value(std::move(root))) << "\n";
  return out;
}

bool rangesFromJson(const std::string &text, ActivationRanges &out, std::string &error) {
  std::optional<llvm::json::Value> v =
      parseDocument(text, "mu-activation-ranges", "a mu activation ranges file", error);
  if (!v)
    return false;
  const llvm::json::Object *ts = v->getAsObject()->getObject("tensors");
  if (!ts) {
    error = "missing \"tensors\"";
    return false;
  }
  out.clear();
  for (const auto &kv : *ts) {
    const llvm::json::Object *o = kv.second.getAsObject();
    ActivationRange r;
    auto lo = o ? o->getNumber("lo") : std::nullopt, hi = o ? o->getNumber("hi") : std::nullopt;
    auto bits = o ? o->getInteger("bits") : std::nullopt;
    if (!lo || !hi || !std::isfinite(*lo) || !std::isfinite(*hi) || *lo > *hi ||
        (bits && *bits != 8 && *bits != 16)) {
      error = "tensor '" + kv.first.str() + "': needs finite lo <= hi and bits 8 or 16";
      return false;
    }
    r.lo = *lo;
    r.hi = *hi;
    r.bits = bits ? int(*bits) : 8;
    r.symmetric = o->getBoolean("symmetric").value_or(false);
    r.isUnsigned = o->getBoolean("unsigned").value_or(false);
    r.powerOfTwo = o->getBoolean("power_of_two").value_or(false);
    const llvm::json::Array *cl = o->getArray("channel_lo"), *ch = o->getArray("channel_hi");
    if (cl || ch) {
      if (!cl || !ch || cl->size() != ch->size()) {
        error = "tensor '" + kv.first.str() + "': channel_lo and channel_hi must have one value per channel";
        return false;
      }
      for (size_t i = 0; i < cl->size(); ++i) {
        auto a = (*cl)[i].getAsNumber(), b = (*ch)[i].getAsNumber();
        if (!a || !b || *a > *b) {
          error = "tensor '" + kv.first.str() + "': bad channel range " + std::to_string(i);
          return false;
        }
        r.channelLo.push_back(*a);
        r.channelHi.push_back(*b);
      }
    }
    out[kv.first.str()] = r;
  }
  return true;
}

} // namespace quant
} // namespace mu
