#include "journeys/quaternary_heap.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <queue>

namespace tp::journeys {
namespace {

struct Item {
  std::int64_t due;
  std::uint64_t seq;  // ties of `due` pop in insertion order, as the engine's timers do
  bool operator>(const Item& o) const { return due != o.due ? due > o.due : seq > o.seq; }
};

// Pops in the same order as std::priority_queue under interleaved pushes and pops, with many
// equal keys (the order must be the total one, ties included).
TEST(QuaternaryHeap, PopsInTheSameOrderAsPriorityQueue) {
  QuaternaryHeap<Item> heap;
  std::priority_queue<Item, std::vector<Item>, std::greater<>> reference;
  std::uint64_t state = 12345, seq = 0;
  auto next = [&] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return state >> 33;
  };
  for (int round = 0; round < 20000; ++round) {
    for (std::uint64_t pushes = next() % 4; pushes > 0; --pushes) {
      Item item{static_cast<std::int64_t>(next() % 500), seq++};
      heap.push(item);
      reference.push(item);
    }
    for (std::uint64_t pops = next() % 4; pops > 0 && !reference.empty(); --pops) {
      ASSERT_FALSE(heap.empty());
      EXPECT_EQ(heap.top().due, reference.top().due);
      EXPECT_EQ(heap.top().seq, reference.top().seq);
      heap.pop();
      reference.pop();
    }
    ASSERT_EQ(heap.size(), reference.size());
  }
  while (!reference.empty()) {
    EXPECT_EQ(heap.top().seq, reference.top().seq);
    heap.pop();
    reference.pop();
  }
  EXPECT_TRUE(heap.empty());
}

}  // namespace
}  // namespace tp::journeys
