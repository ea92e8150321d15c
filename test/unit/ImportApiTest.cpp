//===- ImportApiTest.cpp - the importer library API -----------------------===//
#include "dialects/Mu/MuOps.h"
#include "mu/Import/Import.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/Support/FileSystem.h"

#include <cstdlib>
#include <gtest/gtest.h>

using namespace mlir;

namespace {
std::string sharedModel(const char *rel) {
  const char *dir = std::getenv("MU_SHARED_DIR");
  std::string p = std::string(dir ? dir : "../shared") + "/models/" + rel;
  return llvm::sys::fs::exists(p) ? p : std::string();
}
} // namespace

TEST(ImportApi, DetectsFormats) {
  EXPECT_EQ(mu::detectModelFormat("a/model.onnx"), mu::ModelFormat::Onnx);
  EXPECT_EQ(mu::detectModelFormat("a/model.SAFETENSORS"), mu::ModelFormat::Safetensors);
  EXPECT_EQ(mu::detectModelFormat("/nonexistent/file.bin"), mu::ModelFormat::Unknown);
}

TEST(ImportApi, ErrorsAreValues) {
  MLIRContext ctx;
  std::string err;
  auto m = mu::importModel(ctx, "/nonexistent/model.onnx", "", err);
  EXPECT_FALSE(m);
  EXPECT_EQ(err, "/nonexistent/model.onnx: no such file");
}

/// Both front ends agree on the graph interface of a real checkpoint.
TEST(ImportApi, StoriesBothFormats) {
  std::string onnx = sharedModel("stories260k/model.onnx");
  std::string st = sharedModel("stories260k/model.safetensors");
  if (onnx.empty() || st.empty())
    GTEST_SKIP() << "../shared/models/stories260k not found";
  MLIRContext ctx;
  std::string err;
  auto a = mu::importModel(ctx, onnx, "", err);
  ASSERT_TRUE(a) << err;
  auto b = mu::importModel(ctx, st, "", err);
  ASSERT_TRUE(b) << err;
  auto fa = a->lookupSymbol<func::FuncOp>("main");
  auto fb = b->lookupSymbol<func::FuncOp>("main");
  ASSERT_TRUE(fa && fb);
  EXPECT_EQ(fa.getFunctionType(), fb.getFunctionType());
  int64_t ca = 0, cb = 0;
  fa.walk([&](mu::ConstantOp c) { ca += cast<RankedTensorType>(c.getType()).getNumElements() > 64; });
  fb.walk([&](mu::ConstantOp c) { cb += cast<RankedTensorType>(c.getType()).getNumElements() > 64; });
  EXPECT_EQ(ca, cb) << "same weight tensors from both formats";
}
