//===- mu-check.cpp - verify a .mub against a target description ---------===//
///
/// \file
/// `mu-check model.mub [--target NAME | --target-file FILE] [--scheme S]`:
/// loads the artifact with the runtime (so it is also verified), then checks
/// every tensor and instruction against the target file (see
/// mu/Target/ArtifactCheck.h). Prints each problem and exits 1, or prints a
/// one-line summary and exits 0.
///
//===----------------------------------------------------------------------===//
#include "mu/Target/ArtifactCheck.h"
#include "mub_generated.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/raw_ostream.h"

namespace cl = llvm::cl;

static cl::OptionCategory category("mu-check options");
static cl::opt<std::string> artifact(cl::Positional, cl::desc("<model.mub>"), cl::Required,
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

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(argc, argv,
                              "mu-check: verify a .mub artifact against a target description\n");
  mu::rt::Status st;
  std::unique_ptr<mu::rt::Model> model = mu::rt::Model::load(artifact, st);
  if (!model) {
    llvm::errs() << "mu-check: error: " << st.message << "\n";
    return 1;
  }
  mu::target::Target t;
  std::string error;
  std::string name = targetName;
  if (name.empty() && targetFile.empty())
    name = model->fb().target() ? model->fb().target()->str() : "cpu";
  bool ok = targetFile.empty() ? mu::target::loadBuiltinTarget(name, t, error)
                               : mu::target::loadTargetFile(targetFile, t, error);
  if (!ok) {
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
