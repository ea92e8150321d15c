//===- ShapesTest.cpp - broadcasting and op shape inference ---------------===//
#include "dialects/Mu/MuOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

#include <gtest/gtest.h>

using namespace mlir;
using namespace mu;

static constexpr int64_t kDyn = ShapedType::kDynamic;

TEST(Shapes, Broadcast) {
  SmallVector<int64_t> out;
  ASSERT_TRUE(succeeded(broadcastShapes({1, kDyn, 64}, {64}, out)));
  EXPECT_EQ(out, (SmallVector<int64_t>{1, kDyn, 64}));
  ASSERT_TRUE(succeeded(broadcastShapes({kDyn, 1}, {1, kDyn}, out)));
  EXPECT_EQ(out, (SmallVector<int64_t>{kDyn, kDyn}));
  ASSERT_TRUE(succeeded(broadcastShapes({kDyn, 4}, {3, 1}, out)));
  EXPECT_EQ(out, (SmallVector<int64_t>{3, 4}));
  EXPECT_TRUE(failed(broadcastShapes({3, 4}, {5}, out)));
}

TEST(Shapes, Axes) {
  EXPECT_EQ(normalizeAxis(-1, 4), 3);
  EXPECT_EQ(normalizeAxis(0, 4), 0);
  EXPECT_EQ(normalizeAxis(4, 4), -1);
  EXPECT_EQ(normalizeAxis(-5, 4), -1);
  EXPECT_EQ(staticNumElements({2, 3, 4}), 24);
  EXPECT_EQ(staticNumElements({2, kDyn}), -1);
}

/// Builders infer result types: the importers rely on this.
TEST(Shapes, InferredBuilders) {
  MLIRContext ctx;
  ctx.loadDialect<MuDialect, func::FuncDialect>();
  OpBuilder b(&ctx);
  Location loc = b.getUnknownLoc();
  auto module = ModuleOp::create(loc);
  b.setInsertionPointToEnd(module.getBody());
  auto f32 = b.getF32Type();
  auto func = func::FuncOp::create(
      b, loc, "f",
      b.getFunctionType({RankedTensorType::get({1, 8, kDyn, 16}, f32),
                         RankedTensorType::get({1, kDyn, 64}, f32),
                         RankedTensorType::get({32, 64}, f32),
                         RankedTensorType::get({100, 64}, f32),
                         RankedTensorType::get({1, kDyn}, b.getI64Type())},
                        {}));
  Block *body = func.addEntryBlock();
  b.setInsertionPointToEnd(body);
  Value q = body->getArgument(0), x = body->getArgument(1),
        w = body->getArgument(2), table = body->getArgument(3),
        ids = body->getArgument(4);

  auto kt = TransposeOp::create(b, loc, q, ArrayRef<int64_t>{0, 1, 3, 2});
  EXPECT_EQ(kt.getType(), RankedTensorType::get({1, 8, 16, kDyn}, f32));
  auto s = MatMulOp::create(b, loc, q, kt);
  EXPECT_EQ(s.getType(), RankedTensorType::get({1, 8, kDyn, kDyn}, f32));
  auto l = LinearOp::create(b, loc, x, w, Value());
  EXPECT_EQ(l.getType(), RankedTensorType::get({1, kDyn, 32}, f32));
  auto g = GatherOp::create(b, loc, table, ids, 0);
  EXPECT_EQ(g.getType(), RankedTensorType::get({1, kDyn, 64}, f32));
  auto r = ReduceMeanOp::create(b, loc, x, ArrayRef<int64_t>{-1}, true);
  EXPECT_EQ(r.getType(), RankedTensorType::get({1, kDyn, 1}, f32));
  auto c = ConcatOp::create(b, loc, ValueRange{x, x}, 2);
  EXPECT_EQ(c.getType(), RankedTensorType::get({1, kDyn, 128}, f32));
  auto sl = SliceOp::create(b, loc, x, ArrayRef<int64_t>{2}, ArrayRef<int64_t>{32},
                            ArrayRef<int64_t>{INT64_MAX}, ArrayRef<int64_t>{1});
  EXPECT_EQ(sl.getType(), RankedTensorType::get({1, kDyn, 32}, f32));
  auto cmp = GreaterOp::create(b, loc, x, x);
  EXPECT_EQ(cmp.getType(), RankedTensorType::get({1, kDyn, 64}, b.getI1Type()));
  module.erase();
}
