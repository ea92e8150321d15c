//===- Passes.cpp - pass registration and the fusion pipeline -------------===//
#include "passes/Passes.h"

#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

void mu::buildFuseTransformerPipeline(OpPassManager &pm) {
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  pm.addPass(createFuseLinear());
  pm.addPass(createFuseLayerNorm());
  pm.addPass(createFuseRmsNorm());
  pm.addPass(createFuseActivations());
  pm.addPass(createFuseGlu());
  pm.addPass(createFuseRope());
  pm.addPass(createFuseAttention());
  pm.addPass(createDedupeTiedEmbedding());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
}

void mu::registerAllMuPasses() {
  registerMuPasses();
  PassPipelineRegistration<>(
      "mu-fuse-transformer",
      "Canonicalize, then fuse linear/norm/activation/GLU/RoPE/attention "
      "subgraphs and dedupe tied weights",
      [](OpPassManager &pm) { buildFuseTransformerPipeline(pm); });
}
