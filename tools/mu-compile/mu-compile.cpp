//===- mu-compile.cpp - the mu-compile driver -----------------------------===//
///
/// \file
/// Checkpoint in, compiled model out. Today: import (ONNX or safetensors +
/// config.json), fuse to transformer ops, and emit MLIR or a summary.
///
//===----------------------------------------------------------------------===//
#include "dialects/Mu/MuOps.h"
#include "mu/Import/Import.h"
#include "mu/Version.h"
#include "passes/Passes.h"

#include "mlir/Bytecode/BytecodeWriter.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
namespace cl = llvm::cl;

static cl::OptionCategory category("mu-compile options");

static cl::opt<std::string> inputPath(cl::Positional, cl::desc("<model.onnx | model.safetensors>"),
                                      cl::Required, cl::cat(category));
static cl::opt<std::string> outputPath("o", cl::desc("Output file ('-' = stdout, the default)"),
                                       cl::value_desc("file"), cl::init("-"), cl::cat(category));
static cl::opt<std::string> configPath("config",
    cl::desc("config.json for a safetensors checkpoint (default: next to it)"),
    cl::value_desc("file"), cl::cat(category));

enum class Emit { Mlir, MlirBytecode, Summary };
static cl::opt<Emit> emit("emit", cl::desc("What to produce:"), cl::init(Emit::Mlir),
    cl::values(clEnumValN(Emit::Mlir, "mlir", "the fused mu graph as MLIR text (default for now)"),
               clEnumValN(Emit::MlirBytecode, "mlirbc", "the fused mu graph as MLIR bytecode"),
               clEnumValN(Emit::Summary, "summary", "op counts, parameters and dynamic dims")),
    cl::cat(category));
static cl::opt<bool> noFuse("no-fuse",
    cl::desc("Skip the fusion pipeline: emit the graph as imported"), cl::cat(category));
static cl::opt<bool> elideWeights("elide-weights",
    cl::desc("Print weight blobs as placeholders (readable, not re-parsable)"),
    cl::cat(category));

static const char *overview = R"(mu-compile: compile a small language model checkpoint for NPUs and CPUs

  Reads an FP16 checkpoint -- ONNX (opset 13+) or safetensors with the
  Hugging Face config.json beside it -- imports it into the `mu` graph
  dialect, fuses what exporters emit (RMSNorm/LayerNorm, RoPE, grouped-query
  attention, SwiGLU/GELU, linear layers, tied embeddings) and writes the
  result.

EXAMPLES
  mu-compile model.onnx --emit=mlir --elide-weights     fused graph, readable
  mu-compile model.safetensors --emit=summary           what the model contains
  mu-compile model.onnx --emit=mlir -o model.mlir       re-parsable IR (mu-opt)

Errors name the file and the offending node/tensor and exit with status 1;
output files are written to a temporary name and renamed only on success.
Docs: docs/user-guide.md, docs/dialect.md, docs/model-config.md
)";

/// Op histogram, parameter count and dynamic dims, for people and tests.
static void printSummary(ModuleOp module, llvm::raw_ostream &os) {
  os << "source: " << module->getAttrOfType<StringAttr>("mu.source") << "\n";
  module.walk([&](func::FuncOp f) {
    llvm::MapVector<StringRef, int64_t> ops;
    int64_t params = 0, bytes = 0;
    f.walk([&](Operation *op) {
      if (op->getDialect() && op->getDialect()->getNamespace() == "mu")
        ops[op->getName().stripDialect()]++;
      if (auto c = dyn_cast<mu::ConstantOp>(op)) {
        auto t = cast<RankedTensorType>(c.getType());
        if (t.getNumElements() > 64) {
          params += t.getNumElements();
          bytes += t.getNumElements() * std::max<int64_t>(1, t.getElementTypeBitWidth() / 8);
        }
      }
    });
    os << "func @" << f.getSymName() << ": " << f.getFunctionType() << "\n";
    for (unsigned i = 0; i < f.getNumArguments(); ++i)
      if (auto names = f.getArgAttrOfType<ArrayAttr>(i, "mu.dim_names"))
        os << "  arg " << i << " dims " << names << "\n";
    os << "  weights: " << params << " elements, " << bytes << " bytes\n";
    SmallVector<std::pair<StringRef, int64_t>> sorted(ops.begin(), ops.end());
    llvm::sort(sorted, [](auto &a, auto &b) { return a.first < b.first; });
    for (auto &[name, n] : sorted)
      os << "  " << name << ": " << n << "\n";
  });
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::SetVersionPrinter([](llvm::raw_ostream &os) {
    os << "mu-compile " << MU_VERSION_STRING << " (" << MU_GIT_REVISION
       << "), MLIR " << LLVM_VERSION_STRING << "\n";
  });
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(argc, argv, overview);

  DialectRegistry registry;
  registry.insert<mu::MuDialect, func::FuncDialect>();
  MLIRContext ctx(registry);
  ctx.loadAllAvailableDialects();

  std::string error;
  OwningOpRef<ModuleOp> module = mu::importModel(ctx, inputPath, configPath, error);
  if (!module) {
    llvm::errs() << "mu-compile: error: " << error << "\n";
    return 1;
  }

  if (!noFuse) {
    std::string diag;
    ScopedDiagnosticHandler handler(&ctx, [&](Diagnostic &d) {
      llvm::raw_string_ostream(diag) << d.getLocation() << ": " << d.str() << "\n";
      return success();
    });
    PassManager pm(&ctx);
    mu::buildFuseTransformerPipeline(pm);
    if (failed(pm.run(*module))) {
      llvm::errs() << "mu-compile: error: " << inputPath
                   << ": the fusion pipeline failed (compiler bug): " << diag;
      return 1;
    }
  }

  llvm::Error err = llvm::writeToOutput(outputPath, [&](llvm::raw_ostream &os) -> llvm::Error {
    switch (emit) {
    case Emit::Mlir: {
      OpPrintingFlags flags;
      if (elideWeights)
        flags.elideLargeElementsAttrs(16).elideLargeResourceString(64);
      module->print(os, flags);
      break;
    }
    case Emit::MlirBytecode:
      if (failed(writeBytecodeToFile(*module, os)))
        return llvm::createStringError("bytecode writer failed");
      break;
    case Emit::Summary:
      printSummary(*module, os);
      break;
    }
    return llvm::Error::success();
  });
  if (err) {
    llvm::errs() << "mu-compile: error: cannot write '" << outputPath
                 << "': " << llvm::toString(std::move(err)) << "\n";
    return 1;
  }
  return 0;
}
