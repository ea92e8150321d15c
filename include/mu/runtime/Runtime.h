//===- Runtime.h - the mu executor (libmu_runtime) -------------*- C++ -*-===//
///
/// \file
/// Loads a `.mub` artifact (mmap, verified before anything runs) and executes
/// its programs with the reference kernels. Plain C++17; no MLIR or LLVM; no
/// exceptions cross this API: failures are returned as `Status`.
///
//===----------------------------------------------------------------------===//
#ifndef MU_RUNTIME_RUNTIME_H
#define MU_RUNTIME_RUNTIME_H

#include "mu/runtime/Packing.h"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace mu {
namespace mub {
struct Model;
struct Program;
} // namespace mub

namespace rt {

// The library's API: exported even when libmu_runtime.so is built with
// hidden visibility (its internals are not part of the ABI).
#pragma GCC visibility push(default)

/// Success, or a one-paragraph message naming what is wrong.
struct Status {
  bool ok = true;
  std::string message;
  static Status success() { return {}; }
  static Status error(std::string msg) { return {false, std::move(msg)}; }
  explicit operator bool() const { return ok; }
};

enum class DType : int8_t { F32 = 0, F16, BF16, I64, I32, I16, I8, U8, Bool, U16 };

/// Bytes per element.
size_t dtypeSize(DType t);
const char *dtypeName(DType t);

/// Affine quantization of an integer tensor: real = (q - zero_point) * scale,
/// with one scale per tensor (count 1) or per channel along `axis`.
struct QuantInfo {
  const float *scales = nullptr;
  const int64_t *zeroPoints = nullptr; ///< null = all zero (symmetric)
  int64_t count = 0;
  int32_t axis = -1;
  /// > 0: one scale per block of `blockSize` elements along the last dim
  /// within each channel of `axis` (scales laid out [channels, blocks]).
  int32_t blockSize = 0;
  /// Saturation range; both 0 = the storage type's full range.
  int64_t qmin = 0, qmax = 0;
};

/// A dense row-major tensor view; `data` is not owned.
struct TensorRef {
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  void *data = nullptr;
  const QuantInfo *quant = nullptr; ///< set for quantized integer tensors
  Layout layout = Layout::RowMajor;  ///< packed constants (Packing.h)
  int64_t numel() const;
  size_t bytes() const { return size_t(numel()) * dtypeSize(dtype); }
};

/// An owning host tensor.
struct HostTensor {
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  std::vector<uint8_t> storage;
  static HostTensor make(DType t, std::vector<int64_t> shape);
  TensorRef ref();
  template <typename T> T *as() { return reinterpret_cast<T *>(storage.data()); }
  template <typename T> const T *as() const {
    return reinterpret_cast<const T *>(storage.data());
  }
};

class Adapter;

/// Limits the loader enforces before a session allocates anything.
struct LoadOptions {
  /// Largest runtime memory an artifact may declare: every program's arena,
  /// the persistent state (KV cache) and the kernels' scratch for `threads`
  /// threads. 0 = the machine's physical memory.
  uint64_t maxRuntimeBytes = 0;
  /// Threads the sessions will run (scratch is per thread); 0 = one per
  /// physical core, the sessions' default.
  int threads = 0;
};

/// A loaded, verified artifact. Immutable; shared by sessions.
class Model {
public:
  /// Maps and verifies `path`: header, FlatBuffer, then semantics (versions,
  /// offsets and sizes in range, shapes consistent, instruction operands),
  /// then the memory the artifact declares against `options`.
  static std::unique_ptr<Model> load(const std::string &path, Status &status);
  static std::unique_ptr<Model> load(const std::string &path, const LoadOptions &options,
                                     Status &status);
  ~Model();

  const mub::Model &fb() const { return *fb_; }
  const mub::Program *program(const std::string &name) const;
  std::vector<std::string> programNames() const;
  const uint8_t *segmentData(uint32_t segment) const;
  size_t fileSize() const { return size_; }
  const std::string &path() const { return path_; }
  /// Bytes a session allocates for this artifact: all program arenas, all
  /// state buffers and repackedWeightBytes() (the cap of LoadOptions applies
  /// to this plus the scratch of its threads).
  uint64_t declaredRuntimeBytes() const { return declaredBytes_; }
  /// Row-major int8 weights (a target layout the CPU kernels do not read)
  /// that a session packs on first use for the fast integer kernels.
  uint64_t repackedWeightBytes() const { return repackBytes_; }
  /// Upper bound of the kernels' scratch per thread, from the largest
  /// instruction's operands at their max_shape (docs/reliability.md).
  uint64_t scratchBytesPerThread() const { return scratchBytes_; }
  /// Value of a config key ("" if absent).
  std::string config(const std::string &key) const;

  /// Hex SHA-256 identifying this artifact (format version 4; "" before).
  const std::string &artifactId() const { return artifactId_; }
  /// Linear layers swappable LoRA adapters may adapt (`Lora` instructions).
  struct LoraSite {
    std::string name;
    int64_t in = 0, out = 0;
  };
  const std::vector<LoraSite> &loraSites() const { return sites_; }
  /// Adapters embedded in the artifact, in file order.
  std::vector<std::string> adapterNames() const;
  /// The embedded adapter `name`, or null.
  const Adapter *adapter(const std::string &name) const;

private:
  Model() = default;
  Status verify();
  Status verifyLora(uint32_t formatVersion);
  const uint8_t *base_ = nullptr;
  size_t size_ = 0;
  uint64_t dataOffset_ = 0;
  uint64_t declaredBytes_ = 0;
  uint64_t scratchBytes_ = 0;
  uint64_t repackBytes_ = 0;
  const mub::Model *fb_ = nullptr;
  std::string path_;
  std::string artifactId_;
  std::vector<LoraSite> sites_;
  std::vector<std::unique_ptr<Adapter>> adapters_;
};

/// A swappable LoRA adapter for one base model: embedded in the base
/// artifact (Model::adapter) or loaded from a .mua file compiled against it.
/// A session computes `y = W x + B (A x)` at every site it adapts.
class Adapter {
public:
  /// Maps and verifies a .mua file: structure, segments, finite weights,
  /// and that it was compiled against `base` (its artifact_id and sites).
  static std::unique_ptr<Adapter> load(const Model &base, const std::string &path,
                                       Status &status);
  ~Adapter();
  const std::string &name() const { return name_; }
  /// The adapter directory it was compiled from.
  const std::string &source() const { return source_; }
  /// Per base LoRA site: A [rank, in], B [out, rank] (scale folded into B);
  /// rank 0 = the adapter leaves that site alone.
  struct Site {
    const float *a = nullptr, *b = nullptr;
    int64_t rank = 0;
  };
  const std::vector<Site> &sites() const { return sites_; }
  /// The base artifact's artifact_id.
  const Model &base() const { return base_; }

private:
  friend class Model;
  explicit Adapter(const Model &base) : base_(base) {}
  const Model &base_;
  std::string name_, source_;
  std::vector<Site> sites_;
  const uint8_t *map_ = nullptr; ///< .mua files: the mapping
  size_t size_ = 0;
};

/// Kernel families of the optimized kernels, selected at run time (cpuid).
enum class Isa : int { Portable = 0, Avx2 = 1, Avx512Vnni = 2, NeonDot = 3, AmxInt8 = 4 };
/// Every family, in the order --check-kernels reports them.
inline constexpr Isa kAllIsas[] = {Isa::Portable, Isa::Avx2, Isa::Avx512Vnni, Isa::AmxInt8,
                                   Isa::NeonDot};
const char *isaName(Isa isa);
/// Whether this CPU (and this build) can run `isa`.
bool isaSupported(Isa isa);
/// The family the kernels use now: the best available, or MU_KERNELS
/// (portable, avx2, avx512-vnni, amx-int8, neon-dotprod) when set and
/// supported.
Isa activeIsa();
/// Selects a family for all sessions; false (nothing changes) if the CPU or
/// the build lacks it. Every family gives bit-identical integer results.
bool setKernelIsa(Isa isa);
/// Physical cores (logical CPUs when the topology cannot be read).
int physicalCores();

/// How a session executes.
/// Threads a session with `threads = 0` uses: `n` (> 0), or 0 to go back
/// to one per physical core. For embedders (mu-compile --threads sets it for
/// calibration); sessions already created keep theirs.
void setDefaultThreads(int n);

struct SessionOptions {
  /// Worker threads for the data-parallel kernels (linear layers); 0 = the
  /// default (setDefaultThreads, else one per physical core). Results do not
  /// depend on it.
  int threads = 0;
};

/// Execution state for one model: arenas, persistent state (KV cache),
/// scratch, a thread pool. Not thread-safe; use one session per thread.
class Session {
public:
  explicit Session(const Model &model, const SessionOptions &options = {});
  ~Session();

  /// Runs `program` on `inputs` (in the program's input order). Outputs are
  /// copied into `outputs`.
  Status run(const std::string &program, const std::vector<TensorRef> &inputs,
             std::vector<HostTensor> &outputs);

  /// Zeroes persistent state (start a new sequence).
  void resetState();

  /// Selects the swappable adapter later runs use: one embedded in the model
  /// by name ("" = none). Switch between sequences (the KV cache holds
  /// values computed with the previous adapter). An unknown name is an error
  /// that lists the model's adapters, and leaves the selection unchanged.
  Status setAdapter(const std::string &name);
  /// Selects `adapter` (null = none); it must belong to this session's model
  /// and outlive its use.
  Status setAdapter(const Adapter *adapter);
  const Adapter *adapter() const;

  /// Current extent of `dim` of state buffer `state` (e.g. tokens cached).
  size_t stateLength(int state, int dim) const;
  /// The model this session runs.
  const Model &model() const { return model_; }

  /// When set, every intermediate tensor is written to this directory as
  /// `<program>.<index>.<name>.bin` plus an index.txt line (shape, dtype).
  void setDumpDir(std::string dir) { dumpDir_ = std::move(dir); }

  /// Called after every instruction for each tensor it wrote, with the
  /// tensor's name in the artifact (calibration observers, accuracy
  /// reports). The view is valid only during the call; an observer may
  /// rewrite the values in place (quantization simulation).
  using Observer = std::function<void(const std::string &tensor, TensorRef &value)>;
  void setObserver(Observer observer) { observer_ = std::move(observer); }

  /// Peak bytes held by arenas, state and scratch.
  size_t peakBytes() const { return peakBytes_; }

  /// Threads the kernels use.
  int threads() const;

  /// Per-opcode time spent in kernels (collected while enabled).
  struct OpProfile {
    std::string op;
    uint64_t calls = 0;
    double ms = 0;
  };
  void setProfiling(bool on);
  /// Totals since profiling was enabled, most expensive first; the last
  /// entry ("(interpreter)") is the time between kernels inside run().
  std::vector<OpProfile> profile() const;

private:
  Status runProgram(const std::string &program, const std::vector<TensorRef> &inputs,
                    std::vector<HostTensor> &outputs);
  struct Impl;
  const Model &model_;
  std::unique_ptr<Impl> impl_;
  std::string dumpDir_;
  Observer observer_;
  size_t peakBytes_ = 0;
};

#pragma GCC visibility pop

} // namespace rt
} // namespace mu

#endif // MU_RUNTIME_RUNTIME_H
