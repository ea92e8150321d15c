//===- PlanMemory.cpp - static activation arena planning ------------------===//
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

#include <algorithm>
#include <numeric>

using namespace mlir;

namespace mu {
#define GEN_PASS_DEF_PLANMEMORY
#include "passes/Passes.h.inc"
} // namespace mu

using namespace mu;

namespace {
constexpr uint64_t kAlign = 64;
uint64_t alignUp(uint64_t v) { return (v + kAlign - 1) / kAlign * kAlign; }
} // namespace

uint64_t mu::planArena(std::vector<PlanItem> &items) {
  std::vector<size_t> order(items.size());
  std::iota(order.begin(), order.end(), 0);
  // Largest first; ties by earlier definition (stable: deterministic).
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (items[a].size != items[b].size)
      return items[a].size > items[b].size;
    return items[a].first < items[b].first;
  });
  std::vector<size_t> placed;
  uint64_t arena = 0;
  for (size_t i : order) {
    PlanItem &it = items[i];
    std::vector<std::pair<uint64_t, uint64_t>> busy;
    for (size_t j : placed) {
      const PlanItem &o = items[j];
      if (o.last < it.first || it.last < o.first)
        continue;
      busy.emplace_back(o.offset, o.offset + o.size);
    }
    std::sort(busy.begin(), busy.end());
    uint64_t off = 0;
    for (auto &[b, e] : busy) {
      if (off + it.size <= b)
        break;
      off = std::max(off, alignUp(e));
    }
    it.offset = off;
    arena = std::max(arena, off + it.size);
    placed.push_back(i);
  }
  return alignUp(arena);
}

namespace {

struct PlanMemoryPass : mu::impl::PlanMemoryBase<PlanMemoryPass> {
  using PlanMemoryBase::PlanMemoryBase;

  void runOnOperation() override {
    OpBuilder b(&getContext());
    for (auto f : getOperation().getOps<func::FuncOp>()) {
      int64_t bound = maxSeq;
      if (auto ms = f->getAttrOfType<IntegerAttr>("mu.max_seq"))
        bound = std::min<int64_t>(bound, ms.getInt());
      Block &body = f.getBody().front();
      auto ret = cast<func::ReturnOp>(body.getTerminator());
      // Results that go back to persistent state are not in the arena.
      llvm::DenseSet<Value> stateResults, returned;
      for (auto [i, v] : llvm::enumerate(ret.getOperands())) {
        if (f.getResultAttr(i, "mu.state"))
          stateResults.insert(v);
        else
          returned.insert(v);
      }
      DenseMap<Operation *, int64_t> index;
      int64_t n = 0;
      for (Operation &op : body)
        index[&op] = n++;
      std::vector<PlanItem> items;
      std::vector<std::pair<Operation *, unsigned>> owner;
      for (Operation &op : body) {
        if (!op.getDialect() || op.getDialect()->getNamespace() != "muk")
          continue;
        for (OpResult r : op.getResults()) {
          if (stateResults.contains(r))
            continue;
          auto t = cast<RankedTensorType>(r.getType());
          uint64_t bytes = std::max<uint64_t>(1, t.getElementTypeBitWidth() / 8);
          if (t.getElementType().isInteger(1))
            bytes = 1;
          for (int64_t d : t.getShape())
            bytes *= uint64_t(d == ShapedType::kDynamic ? bound : d);
          PlanItem it;
          it.size = alignUp(std::max<uint64_t>(bytes, 1));
          it.first = index[&op];
          it.last = it.first;
          for (Operation *u : r.getUsers())
            it.last = std::max(it.last, index[u]);
          if (returned.contains(r))
            it.last = n; // read by the caller after the program ends
          items.push_back(it);
          owner.emplace_back(&op, r.getResultNumber());
        }
      }
      uint64_t arena = planArena(items);
      DenseMap<Operation *, SmallVector<int64_t>> offsets;
      for (Operation &op : body)
        if (op.getDialect() && op.getDialect()->getNamespace() == "muk")
          offsets[&op].assign(op.getNumResults(), -1);
      for (size_t i = 0; i < items.size(); ++i)
        offsets[owner[i].first][owner[i].second] = int64_t(items[i].offset);
      for (auto &[op, offs] : offsets)
        op->setAttr("offsets", b.getDenseI64ArrayAttr(offs));
      f->setAttr("muk.arena_size", b.getI64IntegerAttr(int64_t(arena)));
      f->setAttr("muk.max_seq", b.getI64IntegerAttr(bound));
    }
  }
};

} // namespace
