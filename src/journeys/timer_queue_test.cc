#include "journeys/timer_queue.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <queue>

#include "journeys/quaternary_heap.h"

namespace tp::journeys {
namespace {

struct Item {
  std::int64_t due;
  std::uint64_t seq;  // ties of `due` pop in insertion order, as the engine's timers do
  bool operator>(const Item& o) const { return due != o.due ? due > o.due : seq > o.seq; }
};

// Pops in the same order as std::priority_queue under interleaved pushes and pops, with many
// equal keys (the order must be the total one, ties included). `in_order_percent` of the items
// are "now + a fixed wait" with `now` moving forward, the rest anywhere in the next 500 ticks.
template <typename Queue>
void expect_priority_queue_order(int in_order_percent) {
  SCOPED_TRACE(in_order_percent);
  Queue queue;
  std::priority_queue<Item, std::vector<Item>, std::greater<>> reference;
  std::uint64_t state = 12345, seq = 0;
  std::int64_t now = 0;
  auto next = [&] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return state >> 33;
  };
  for (int round = 0; round < 20000; ++round) {
    now += static_cast<std::int64_t>(next() % 3);
    for (std::uint64_t pushes = next() % 4; pushes > 0; --pushes) {
      bool fixed = static_cast<int>(next() % 100) < in_order_percent;
      Item item{now + (fixed ? 200 : static_cast<std::int64_t>(next() % 500)), seq++};
      queue.push(item);
      reference.push(item);
    }
    for (std::uint64_t pops = next() % 4; pops > 0 && !reference.empty(); --pops) {
      ASSERT_FALSE(queue.empty());
      ASSERT_EQ(queue.top().due, reference.top().due);
      ASSERT_EQ(queue.top().seq, reference.top().seq);
      queue.pop();
      reference.pop();
    }
    ASSERT_EQ(queue.size(), reference.size());
  }
  while (!reference.empty()) {
    ASSERT_EQ(queue.top().seq, reference.top().seq);
    queue.pop();
    reference.pop();
  }
  EXPECT_TRUE(queue.empty());
}

TEST(QuaternaryHeap, PopsInTheSameOrderAsPriorityQueue) {
  for (int in_order_percent : {0, 90}) expect_priority_queue_order<QuaternaryHeap<Item>>(in_order_percent);
}

// Whether items arrive in order (the FIFO), out of order (the heap) or mixed.
TEST(TimerQueue, PopsInTheSameOrderAsPriorityQueue) {
  for (int in_order_percent : {0, 50, 90, 100}) expect_priority_queue_order<TimerQueue<Item>>(in_order_percent);
}

}  // namespace
}  // namespace tp::journeys
