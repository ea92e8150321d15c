//===- mu-check.cpp - verify a .mub against a target description ---------===//
///
/// \file
/// `mu-check model.mub [--target NAME | --target-file FILE] [--scheme S]`:
/// loads the artifact with the runtime (so it is also verified), then checks
/// every tensor and instruction against the target file (see
/// mu/Target/ArtifactCheck.h). Prints each problem and exits 1, or prints a
/// one-line summary and exits 0.
///
/// `mu-check model.onnx | DIR [--target ...]`: checks QDQ ONNX models (a
/// directory: every .onnx in it, as --emit=qdq-onnx writes them) against
/// the provider conventions and the target's encodings (mu/Export/QdqCheck.h).
///
//===----------------------------------------------------------------------===//
#include "mu/Export/QdqCheck.h"
#include "mu/Target/ArtifactCheck.h"
#include "mub_generated.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>

namespace cl = llvm::cl;

static cl::OptionCategory category("mu-check options");
static cl::opt<std::string> artifact(cl::Positional, cl::desc("<model.mub | model.onnx | DIR>"),
                                     cl::Required,
                                     cl::cat(category));
static cl::opt<std::string>
    targetName("target",
               cl::desc("Shipped target to check against (default: the one the artifact records)"),
               cl::cat(category));
static cl::opt<std::string> targetFile("target-file",
                                       cl::desc("Target description file to check against"),
                                       cl::value_desc("file"), cl::cat(category));
static cl::opt<std::string>
    scheme("scheme",
           cl::desc("Quantization scheme to check (default: the one the artifact records)"),
           cl::cat(category));

static cl::opt<bool> json("json", cl::desc("QDQ ONNX: print the result as JSON"),
                          cl::cat(category));

static bool loadTarget(const std::string &recorded, mu::target::Target &t, std::string &error) {
  std::string name = targetName;
  if (name.empty() && targetFile.empty())
    name = recorded.empty() ? "cpu" : recorded;
  return targetFile.empty() ? mu::target::loadBuiltinTarget(name, t, error)
                            : mu::target::loadTargetFile(targetFile, t, error);
}

/// QDQ ONNX: one file, or every .onnx of a --emit=qdq-onnx directory (the
/// target recorded in its mu-qdq.json unless --target/--target-file).
static int checkOnnx() {
  std::vector<std::string> files;
  std::string recorded;
  if (llvm::sys::fs::is_directory(artifact)) {
    std::error_code ec;
    for (llvm::sys::fs::directory_iterator it(artifact, ec), end; it != end && !ec; it.increment(ec))
      if (llvm::StringRef(it->path()).ends_with(".onnx"))
        files.push_back(it->path());
    std::sort(files.begin(), files.end());
    llvm::SmallString<256> side(artifact);
    llvm::sys::path::append(side, "mu-qdq.json");
    if (auto buf = llvm::MemoryBuffer::getFile(side))
      if (auto v = llvm::json::parse((*buf)->getBuffer()))
        if (auto *o = v->getAsObject())
          if (auto t = o->getString("target"))
            recorded = t->str();
    if (files.empty()) {
      llvm::errs() << "mu-check: error: " << artifact << ": no .onnx files\n";
      return 1;
    }
  } else {
    files.push_back(artifact);
  }
  mu::target::Target t;
  std::string error;
  bool withTarget = !targetName.empty() || !targetFile.empty() || !recorded.empty();
  if (withTarget && !loadTarget(recorded, t, error)) {
    llvm::errs() << "mu-check: error: " << error << "\n";
    return 1;
  }
  size_t bad = 0;
  for (const std::string &f : files) {
    mu::QdqCheckResult r;
    if (!mu::checkQdqOnnx(f, withTarget ? &t : nullptr, scheme, r, error)) {
      llvm::errs() << "mu-check: error: " << error << "\n";
      return 1;
    }
    bad += r.violations.size();
    if (json)
      llvm::outs() << r.toJson();
    else
      (r.violations.empty() ? llvm::outs() : llvm::errs()) << r.summary();
  }
  if (bad && !json)
    llvm::errs() << "mu-check: " << bad << " violation(s) of the QDQ conventions"
                 << (withTarget ? " or target '" + t.name + "'" : std::string()) << "\n";
  return bad ? 1 : 0;
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(argc, argv,
                              "mu-check: verify a .mub artifact or QDQ ONNX models against a "
                              "target description\n");
  if (llvm::StringRef(artifact).ends_with(".onnx") || llvm::sys::fs::is_directory(artifact))
    return checkOnnx();
  mu::rt::Status st;
  std::unique_ptr<mu::rt::Model> model = mu::rt::Model::load(artifact, st);
  if (!model) {
    llvm::errs() << "mu-check: error: " << st.message << "\n";
    return 1;
  }
  mu::target::Target t;
  std::string error;
  if (!loadTarget(model->fb().target() ? model->fb().target()->str() : "", t, error)) {
    llvm::errs() << "mu-check: error: " << error << "\n";
    return 1;
  }
  std::vector<std::string> problems;
  mu::target::ArtifactCheckStats stats;
  mu::target::checkArtifact(*model, t, scheme, problems, stats);
  for (const std::string &p : problems)
    llvm::errs() << artifact << ": " << p << "\n";
  if (!problems.empty()) {
    llvm::errs() << "mu-check: " << problems.size() << " problem(s) against target '" << t.name
                 << "'\n";
    return 1;
  }
  llvm::outs() << artifact << ": ok for target '" << t.name << "' (" << stats.tensors
               << " tensors, " << stats.quantized << " quantized; " << stats.instructions
               << " instructions, " << stats.onCpu << " on the CPU)\n";
  return 0;
}
