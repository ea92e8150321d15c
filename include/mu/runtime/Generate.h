//===- Generate.h - sampling and the generation loop -----------*- C++ -*-===//
#ifndef MU_RUNTIME_GENERATE_H
#define MU_RUNTIME_GENERATE_H

#include "mu/runtime/Runtime.h"
#include "mu/runtime/Tokenizer.h"

#include <chrono>
#include <functional>
#include <random>
#include <vector>

namespace mu {
namespace rt {

// The library's API: exported even when libmu_runtime.so is built with
// hidden visibility (its internals are not part of the ABI).
#pragma GCC visibility push(default)

struct SamplingOptions {
  bool greedy = false;
  float temperature = 1.0f;
  int topK = 0;      ///< 0 = no limit
  float topP = 1.0f; ///< nucleus mass
  uint64_t seed = 0;
};

/// Picks the next token from logits. Deterministic for a given seed. The
/// candidates are ordered by probability only as far as the draw needs
/// (a few dozen tokens, typically), never by a full sort of the vocabulary.
class Sampler {
public:
  explicit Sampler(const SamplingOptions &o) : opts_(o), rng_(o.seed) {}
  int sample(const float *logits, int n);

private:
  SamplingOptions opts_;
  std::mt19937_64 rng_;
  std::vector<int> candidates_; ///< reused across calls (no allocation per token)
};

struct GenerateStats {
  int promptTokens = 0;
  int generatedTokens = 0;
  double ttftMs = 0;      ///< prompt in -> first new token out
  double decodeMs = 0;    ///< all later tokens
  double tokensPerS = 0;  ///< generated tokens after the first / decode time
  size_t peakBytes = 0;   ///< runtime memory (arenas, state, scratch) + weights mapped
};

/// Runs a decoder-only artifact: cached `prefill`/`decode` programs when
/// present, else `main(input_ids) -> logits` over the whole sequence.
/// Runs `encode` on `source` (a static-shape encoder: padded to its fixed
/// length with the valid count passed, `padded` set). outs[0] is the
/// encoder output over the source's tokens only; the cross-attention K/V go
/// to the session's state.
Status runEncoder(const Model &model, Session &session, const std::vector<int64_t> &source,
                  std::vector<HostTensor> &outs, bool &padded);

class Generator {
public:
  Generator(const Model &model, Session &session) : model_(model), session_(session) {}

  /// Appends up to `maxNew` tokens to `ids`; stops early at an EOS id or a
  /// BOS after the prompt. `onToken` sees each new id as it is produced.
  Status generate(std::vector<int> &ids, int maxNew, const SamplingOptions &opts,
                  const std::vector<int> &stopIds,
                  const std::function<void(int)> &onToken, GenerateStats &stats);

  /// Logits for every position of `ids` ([ids.size() x vocab]).
  Status logits(const std::vector<int> &ids, std::vector<float> &out, int64_t &vocab);

  /// Teacher forcing through the KV cache: feeds `ids` one token per
  /// `decode` call (positions 0, 1, ...) and stores, for each position, the
  /// argmax of the next-token logits (`top1[j]` follows `ids[0..j]`).
  Status teacherForcedArgmax(const std::vector<int> &ids, std::vector<int> &top1);
  /// Encoder-decoder teacher forcing: encodes `source`, feeds `decoderIds`
  /// (decoder start first) one per step and appends each step's next-token
  /// logits to `logits` ([decoderIds.size() x vocab]).
  Status teacherForcedSeq2Seq(const std::vector<int> &source, const std::vector<int> &decoderIds,
                              std::vector<float> &logits, int64_t &vocab);
  /// Use the KV-cache programs (prefill/decode) when the artifact has them
  /// (default); otherwise every step recomputes the whole sequence.
  void setUseCache(bool on) { useCache_ = on; }

  /// Encoder-decoder artifacts (`encode` + `decode`): `ids` is the source;
  /// generation appends decoder tokens after `decoderStart` to `out`.
  bool isEncoderDecoder() const;
  Status generateSeq2Seq(const std::vector<int> &source, int decoderStart, int maxNew,
                         const SamplingOptions &opts, const std::vector<int> &stopIds,
                         const std::function<void(int)> &onToken, std::vector<int> &out,
                         GenerateStats &stats);

  /// Stepwise decoding, for callers that look at every step (openers, the
  /// server, a local continuation after a handoff fails): begin() starts a
  /// new sequence with `prompt` and computes the next-token logits; push()
  /// appends one token and computes the logits after it. Uses the KV cache
  /// when the artifact has one (one decode per push), else recomputes.
  Status begin(const std::vector<int> &prompt);
  Status push(int token);
  const std::vector<float> &nextLogits() const { return last_; }
  const std::vector<int> &sequence() const { return seq_; }

  /// Greedy-generates `steps` tokens with the cached programs and checks each
  /// step's logits against a full recompute (main / decode_full). Reports
  /// the largest absolute logit difference and whether the argmaxes agree.
  Status verifyCache(const std::vector<int> &prompt, int decoderStart, int steps,
                     double &maxAbsDiff, int &argmaxMismatches);

private:
  /// Token count of a static-shape program (ids [1, N] plus a length
  /// input; mu-static-shapes), or 0 for a dynamic one.
  int64_t staticSeq(const char *program) const;
  /// Next-token logits after `ids`, feeding only ids[from..] when cached.
  Status step(const std::vector<int> &ids, size_t from, bool cached, std::vector<float> &last,
              int64_t &vocab);
  Status runLogits(const char *program, std::vector<TensorRef> inputs, size_t n,
                   std::vector<float> &last, int64_t &vocab);
  /// Samples up to `maxNew` tokens onto `seq` (stops at `stopIds`).
  Status decodeLoop(std::vector<int> &seq, bool cached, int maxNew, const SamplingOptions &opts,
                    const std::vector<int> &stopIds, const std::function<void(int)> &onToken,
                    GenerateStats &stats, std::chrono::steady_clock::time_point t0);
  bool useCache_ = true;
  bool stepCached_ = false;       ///< begin()/push() state
  size_t stepFed_ = 0;
  std::vector<int> seq_;
  std::vector<float> last_;
  HostTensor encoded_; ///< encoder output for decode_full
  /// Valid source tokens when the encoder is static-shape (its source padded;
  /// `decode` then takes the length too), else -1.
  int64_t sourceLength_ = -1;
  const Model &model_;
  Session &session_;
};

#pragma GCC visibility pop

} // namespace rt
} // namespace mu

#endif // MU_RUNTIME_GENERATE_H
