//===- PlanMemory.cpp - static activation arena planning ------------------===//
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Quant/IR/QuantTypes.h"
#include "mlir/IR/Builders.h"

#include <algorithm>
#include <functional>
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
      auto isKernel = [](Operation *op) {
        return op && op->getDialect() && op->getDialect()->getNamespace() == "muk";
      };
      auto bytesOf = [&](Value v) {
        auto t = cast<RankedTensorType>(v.getType());
        Type et = t.getElementType();
        if (auto q = dyn_cast<mlir::quant::QuantizedType>(et))
          et = q.getStorageType();
        uint64_t bytes = et.isInteger(1) ? 1 : std::max<uint64_t>(1, et.getIntOrFloatBitWidth() / 8);
        for (int64_t d : t.getShape())
          bytes *= uint64_t(d == ShapedType::kDynamic ? bound : d);
        return alignUp(std::max<uint64_t>(bytes, 1));
      };
      auto lastUse = [&](Value v) {
        int64_t last = v.getDefiningOp() ? index[v.getDefiningOp()] : -1;
        for (Operation *u : v.getUsers())
          last = std::max(last, index[u]);
        return returned.contains(v) ? n : last;
      };
      // In place where legal: a reshape shares its input's buffer (same
      // bytes); an elementwise kernel may write over an operand of the same
      // type whose last use it is (kernels read element i before writing it).
      // Aliased values form one buffer: union of live ranges, max size.
      DenseMap<Value, Value> leader;
      std::function<Value(Value)> find = [&](Value v) -> Value {
        auto it = leader.find(v);
        if (it == leader.end() || it->second == v)
          return v;
        Value root = find(it->second);
        leader[v] = root;
        return root;
      };
      // Last use over every value sharing a buffer so far (a reshape alias
      // keeps its input's buffer alive).
      DenseMap<Value, int64_t> groupLast;
      auto join = [&](Value r, Value in) {
        Value root = find(in);
        leader[r] = root;
        groupLast[root] = std::max(groupLast.lookup(root), lastUse(r));
      };
      for (Operation &op : body) {
        if (!isKernel(&op) || op.getNumResults() != 1)
          continue;
        Value r = op.getResult(0);
        if (stateResults.contains(r))
          continue;
        for (Value in : op.getOperands())
          if (isKernel(in.getDefiningOp()) && !groupLast.count(find(in)))
            groupLast[find(in)] = lastUse(in);
        StringRef name = op.getName().stripDialect();
        bool elementwise = isa<muk::AddOp, muk::SubOp, muk::MulOp, muk::DivOp, muk::NegOp,
                               muk::ExpOp, muk::SiluOp, muk::GeluOp, muk::GeluTanhOp,
                               muk::TanhOp, muk::SigmoidOp, muk::ReluOp, muk::GluOp,
                               muk::RmsNormOp, muk::LayerNormOp>(op);
        for (Value in : op.getOperands()) {
          Operation *d = in.getDefiningOp();
          if (!isKernel(d) || stateResults.contains(in) || returned.contains(in))
            continue;
          if (name == "reshape" || (elementwise && in.getType() == r.getType() &&
                                    groupLast.lookup(find(in)) == index[&op])) {
            join(r, in);
            break;
          }
        }
      }
      std::vector<PlanItem> items;
      DenseMap<Value, size_t> itemOf; // group leader -> item
      std::vector<std::pair<Operation *, unsigned>> members;
      std::vector<size_t> memberItem;
      for (Operation &op : body) {
        if (!isKernel(&op))
          continue;
        for (OpResult r : op.getResults()) {
          if (stateResults.contains(r))
            continue;
          Value root = find(r);
          auto it = itemOf.find(root);
          if (it == itemOf.end()) {
            PlanItem pi;
            pi.size = 0;
            pi.first = index[&op];
            pi.last = pi.first;
            items.push_back(pi);
            it = itemOf.insert({root, items.size() - 1}).first;
          }
          PlanItem &pi = items[it->second];
          pi.size = std::max(pi.size, bytesOf(r));
          pi.first = std::min(pi.first, index[&op]);
          pi.last = std::max(pi.last, lastUse(r));
          members.emplace_back(&op, r.getResultNumber());
          memberItem.push_back(it->second);
        }
      }
      uint64_t arena = planArena(items);
      DenseMap<Operation *, SmallVector<int64_t>> offsets;
      for (Operation &op : body)
        if (isKernel(&op))
          offsets[&op].assign(op.getNumResults(), -1);
      for (size_t i = 0; i < members.size(); ++i)
        offsets[members[i].first][members[i].second] = int64_t(items[memberItem[i]].offset);
      for (auto &[op, offs] : offsets)
        op->setAttr("offsets", b.getDenseI64ArrayAttr(offs));
      f->setAttr("muk.arena_size", b.getI64IntegerAttr(int64_t(arena)));
      f->setAttr("muk.max_seq", b.getI64IntegerAttr(bound));
    }
  }
};

} // namespace
