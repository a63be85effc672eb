// Clock: the only source of "now" in Touchpoint. Components take a Clock& so that tests and
// `touchpoint simulate` can move time by hand (ManualClock) and get exact, fast results.
#pragma once

#include <atomic>
#include <chrono>

namespace tp {

using Millis = std::chrono::milliseconds;
using Timestamp = std::chrono::sys_time<Millis>;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual Timestamp now() const = 0;
};

// The wall clock. Thread-safe.
class SystemClock final : public Clock {
 public:
  Timestamp now() const override;
};

// A clock that moves only when told to. Thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(Timestamp start) : now_(start.time_since_epoch().count()) {}
  Timestamp now() const override { return Timestamp(Millis(now_.load())); }
  void set(Timestamp t) { now_.store(t.time_since_epoch().count()); }
  void advance(Millis d) { now_.fetch_add(d.count()); }

 private:
  std::atomic<long long> now_;
};

}  // namespace tp
