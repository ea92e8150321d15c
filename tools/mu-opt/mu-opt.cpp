//===- mu-opt.cpp - mlir-opt for the mu dialects and passes ---------------===//
#include "dialects/Mu/MuOps.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  registry.insert<mu::MuDialect, muk::MukDialect, mlir::func::FuncDialect,
                  mlir::quant::QuantDialect>();
  mlir::registerCanonicalizerPass();
  mlir::registerCSEPass();
  mlir::registerSymbolDCEPass();
  mu::registerAllMuPasses();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "mu optimizer driver\n", registry));
}
