//===- DedupeTiedEmbedding.cpp - merge byte-identical weight constants ----===//
#include "passes/PatternUtils.h"
#include "passes/Passes.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/Hashing.h"

using namespace mlir;

namespace mu {
#define GEN_PASS_DEF_DEDUPETIEDEMBEDDING
#include "passes/Passes.h.inc"
} // namespace mu

using namespace mu;

namespace {

/// True for constants that mu-fuse-linear derived by transposing another.
bool isDerivedName(ConstantOp op) {
  auto r = dyn_cast<DenseResourceElementsAttr>(op.getValue());
  return r && StringRef(r.getRawHandle().getKey()).ends_with(".T");
}

struct DedupeTiedEmbeddingPass
    : mu::impl::DedupeTiedEmbeddingBase<DedupeTiedEmbeddingPass> {
  void runOnOperation() override {
    // Bucket weight constants by (type, content hash); merge exact matches.
    // LM heads stored [in, out] were already transposed by mu-fuse-linear, so
    // they compare equal to the [vocab, d] embedding table here.
    DenseMap<std::pair<Type, llvm::hash_code>, SmallVector<ConstantOp>> buckets;
    getOperation().walk([&](ConstantOp op) {
      ArrayRef<char> bytes = rawConstantBytes(op.getValue());
      if (bytes.size() < 1024)
        return; // small constants are CSE's business
      llvm::hash_code h =
          llvm::hash_combine_range(bytes.begin(), bytes.end());
      buckets[{op.getType(), h}].push_back(op);
    });
    for (auto &entry : buckets) {
      SmallVector<ConstantOp> kept;
      for (ConstantOp op : entry.second) {
        ArrayRef<char> bytes = rawConstantBytes(op.getValue());
        auto same = llvm::find_if(kept, [&](ConstantOp k) {
          return k->getBlock() == op->getBlock() &&
                 rawConstantBytes(k.getValue()) == bytes;
        });
        if (same == kept.end()) {
          kept.push_back(op);
          continue;
        }
        // Keep the checkpoint's own tensor over a compile-time transposed
        // copy (named "<x>.T" by mu-fuse-linear); constants have no operands,
        // so the kept one can move up to dominate every use.
        ConstantOp keep = *same, drop = op;
        if (isDerivedName(keep) && !isDerivedName(drop)) {
          std::swap(keep, drop);
          *same = keep;
        }
        if (drop->isBeforeInBlock(keep))
          keep->moveBefore(drop);
        drop.getResult().replaceAllUsesWith(keep.getResult());
        drop.erase();
      }
    }
  }
};

} // namespace
