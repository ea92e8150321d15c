//===- MemoryPlanner.cpp - static activation arena planning ---------------===//
#include "mu/Artifact/MubFormat.h"
#include "mu/Artifact/MubWriter.h"

#include <algorithm>
#include <numeric>

namespace mu {

uint64_t planArena(std::vector<PlanItem> &items) {
  std::vector<size_t> order(items.size());
  std::iota(order.begin(), order.end(), 0);
  // Largest first; ties by earlier definition, then index (deterministic).
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (items[a].size != items[b].size)
      return items[a].size > items[b].size;
    return items[a].first < items[b].first;
  });
  std::vector<size_t> placed;
  uint64_t arena = 0;
  for (size_t i : order) {
    PlanItem &it = items[i];
    // Busy intervals of placed items whose lifetimes overlap this one.
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
      off = std::max(off, alignTo(e, kMubAlignment));
    }
    it.offset = off;
    arena = std::max(arena, off + it.size);
    placed.push_back(i);
  }
  return alignTo(arena, kMubAlignment);
}

} // namespace mu
