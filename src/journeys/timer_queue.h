// The engine's timer queue: a priority queue that is cheap for timers pushed in order.
//
// Most timers are "now + a fixed wait" (48 h after a send, 30 days after an exit survey), and
// `now` only moves forward, so each one is due no earlier than the one pushed before it. Those
// go to the back of a FIFO: pushing and popping them touches only its two ends, where a heap of
// millions walks a path of cache misses. The rest (a quiet-hours deferral, a local time of day,
// a date trigger) go to a 4-ary heap. top() is the earlier of the two fronts, so the pop order is
// exactly a single heap's.
#pragma once

#include <deque>

#include "journeys/quaternary_heap.h"

namespace tp::journeys {

// T needs `bool operator>(const T&) const`, a strict total order; top() is the smallest.
template <typename T>
class TimerQueue {
 public:
  bool empty() const { return in_order_.empty() && heap_.empty(); }
  size_t size() const { return in_order_.size() + heap_.size(); }
  const T& top() const { return from_heap() ? heap_.top() : in_order_.front(); }

  void push(const T& item) {
    if (in_order_.empty() || !(in_order_.back() > item)) in_order_.push_back(item);
    else heap_.push(item);
  }

  void pop() {
    if (from_heap()) heap_.pop();
    else in_order_.pop_front();
  }

 private:
  bool from_heap() const { return in_order_.empty() || (!heap_.empty() && in_order_.front() > heap_.top()); }

  std::deque<T> in_order_;  // sorted: each item is no earlier than the one before it
  QuaternaryHeap<T> heap_;
};

}  // namespace tp::journeys
