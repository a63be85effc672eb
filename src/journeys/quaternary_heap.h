// A min-heap with four children per node, for the engine's timer queue.
//
// Millions of timers wait at once, so popping the earliest is a walk from the root to a leaf
// through memory that is not in the cache. Four children per node halve the depth of a binary
// heap (std::priority_queue), and a node's children sit next to each other, so each level costs
// one or two cache lines instead of one per level of a twice-as-deep tree.
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

namespace tp::journeys {

// T needs `bool operator>(const T&) const`, a strict weak order; top() is the smallest. With
// a total order (no two elements equivalent) the pop order is the same as any other heap's.
template <typename T>
class QuaternaryHeap {
 public:
  bool empty() const { return items_.empty(); }
  size_t size() const { return items_.size(); }
  const T& top() const { return items_.front(); }

  void push(const T& item) {
    size_t at = items_.size();
    items_.push_back(item);
    while (at > 0) {
      size_t parent = (at - 1) / kArity;
      if (!(items_[parent] > item)) break;
      items_[at] = items_[parent];
      at = parent;
    }
    items_[at] = item;
  }

  void pop() {
    T last = items_.back();
    items_.pop_back();
    size_t n = items_.size();
    if (n == 0) return;
    size_t at = 0;
    for (;;) {
      size_t first = at * kArity + 1;
      if (first >= n) break;
      size_t smallest = first;
      for (size_t child = first + 1, end = std::min(first + kArity, n); child < end; ++child)
        if (items_[smallest] > items_[child]) smallest = child;
      if (!(last > items_[smallest])) break;
      items_[at] = items_[smallest];
      at = smallest;
    }
    items_[at] = last;
  }

 private:
  static constexpr size_t kArity = 4;
  std::vector<T> items_;
};

}  // namespace tp::journeys
