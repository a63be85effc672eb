#include "base/clock.h"

namespace tp {

Timestamp SystemClock::now() const {
  return std::chrono::time_point_cast<Millis>(std::chrono::system_clock::now());
}

}  // namespace tp
