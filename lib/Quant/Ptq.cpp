//===- Ptq.cpp - post-training quantization driver ------------------------===//
#include "mu/Quant/Ptq.h"

#include "dialects/Kernel/MukOps.h"
#include "mu/runtime/Runtime.h"
#include "mu/runtime/Tokenizer.h"
#include "mub_generated.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <set>
#include <unistd.h>

using namespace mlir;

namespace mu {
namespace quant {

namespace {

void drawProgress(size_t done, size_t total, double seconds) {
  const int width = 30;
  int filled = total ? int(width * done / total) : width;
  std::string bar(size_t(filled), '#');
  bar.resize(width, '-');
  std::fprintf(stderr, "\rcalibrating [%s] %zu/%zu sequences, %.1f s", bar.c_str(), done, total,
               seconds);
  if (done == total)
    std::fprintf(stderr, "\n");
  std::fflush(stderr);
}

/// Names of the tensors linear layers read and write, over all programs.
std::set<std::string> linearTensors(ModuleOp lowered) {
  std::set<std::string> out;
  for (auto f : lowered.getOps<func::FuncOp>()) {
    Block &body = f.getBody().front();
    llvm::DenseMap<Value, std::string> names = muk::kernelResultNames(body);
    for (auto lin : body.getOps<muk::LinearOp>()) {
      auto it = names.find(lin->getOperand(0));
      if (it != names.end())
        out.insert(it->second);
      out.insert(names.lookup(lin->getResult(0)));
    }
  }
  return out;
}

} // namespace

bool calibrate(ModuleOp module, const MubOptions &floatOptions, const PtqOptions &o,
               CalibrationStats &stats, ActivationRanges &ranges, std::string &error) {
  // A float copy, lowered and planned (weights are shared, not copied).
  OwningOpRef<ModuleOp> copy(cast<ModuleOp>(module->clone()));
  MubOptions fopts = floatOptions;
  fopts.weightBits = 0;
  fopts.activationRanges = nullptr;
  if (o.calibLength > fopts.maxSeq)
    fopts.maxSeq = o.calibLength;
  MubArtifact art;
  if (!prepareMub(*copy, fopts, art, error))
    return false;
  std::set<std::string> wanted = linearTensors(*copy);

  if (!o.calibPath.empty()) {
    // Run the float artifact from a temporary file (mmap, like deployment).
    SmallString<128> tmp;
    int fd;
    if (auto ec = llvm::sys::fs::createTemporaryFile("mu-calib", "mub", fd, tmp)) {
      error = "cannot create a temporary file for the float model: " + ec.message();
      return false;
    }
    llvm::FileRemover remover(tmp);
    {
      llvm::raw_fd_ostream os(fd, /*shouldClose=*/true);
      art.write(os);
      if (os.has_error()) {
        error = "cannot write the float model to " + tmp.str().str();
        os.clear_error();
        return false;
      }
    }
    rt::Status st;
    std::unique_ptr<rt::Model> model = rt::Model::load(tmp.str().str(), st);
    if (!model) {
      error = "float model: " + st.message;
      return false;
    }
    const mub::Program *p = model->program("main");
    if (!p || !p->inputs() || p->inputs()->size() != 1) {
      error = "calibration runs the decoder-only `main` program (one input_ids input); this "
              "model has none (encoder-decoder calibration is not supported yet)";
      return false;
    }
    rt::Tokenizer tok;
    if (model->fb().tokenizer())
      (void)tok.init(model->fb().tokenizer());
    int64_t vocab = 0;
    if (const mub::Tensor *out = p->tensors()->Get(p->outputs()->Get(0)))
      vocab = out->shape()->size() ? out->shape()->Get(out->shape()->size() - 1) : 0;
    CalibrationInput input;
    if (!loadCalibrationInput(o.calibPath, o.calibFormat, tok, o.calibCount, o.calibLength, vocab,
                              input, error))
      return false;
    auto t0 = std::chrono::steady_clock::now();
    auto progress = [&](size_t done, size_t total) {
      if (o.progress)
        drawProgress(done, total,
                     std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    };
    if (!collectStats(*model, "main", input, stats, progress, error))
      return false;
    stats.modelSha256 = o.modelSha256;
    if (!o.statsPath.empty()) {
      std::string json = stats.toJson();
      SmallString<128> part(o.statsPath);
      part += ".part";
      std::error_code ec;
      {
        llvm::raw_fd_ostream os(part, ec);
        if (!ec) {
          os << json;
          os.close();
          if (os.has_error())
            ec = os.error();
        }
      }
      if (ec || (ec = llvm::sys::fs::rename(part, o.statsPath))) {
        llvm::sys::fs::remove(part);
        error = "cannot write statistics to '" + o.statsPath + "': " + ec.message();
        return false;
      }
    }
  } else {
    auto buf = llvm::MemoryBuffer::getFile(o.statsPath);
    if (!buf) {
      error = "cannot read calibration statistics '" + o.statsPath + "'";
      return false;
    }
    if (!CalibrationStats::fromJson((*buf)->getBuffer().str(), stats, error)) {
      error = o.statsPath + ": " + error;
      return false;
    }
    if (!o.modelSha256.empty() && !stats.modelSha256.empty() && stats.modelSha256 != o.modelSha256) {
      error = o.statsPath + ": statistics were collected on a different checkpoint (sha256 " +
              stats.modelSha256.substr(0, 12) + "..., this one " + o.modelSha256.substr(0, 12) +
              "...)";
      return false;
    }
  }

  RangeOptions ro = o.range;
  ro.bits = o.activationBits;
  ro.symmetric = o.symmetric;
  for (const std::string &name : wanted) {
    auto it = stats.tensors.find(name);
    if (it == stats.tensors.end() || it->second.batches == 0)
      continue;
    Range r = chooseRange(it->second, ro);
    ranges[name] = ActivationRange{r.lo, r.hi, o.activationBits, o.symmetric};
  }
  if (ranges.empty()) {
    error = "calibration statistics cover none of this model's linear-layer tensors";
    return false;
  }
  return true;
}

} // namespace quant
} // namespace mu
