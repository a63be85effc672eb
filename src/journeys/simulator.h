// `touchpoint simulate`: journeys run on a virtual clock over a file of Segment messages.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "base/status.h"
#include "journeys/loader.h"

namespace tp::journeys {

struct SimulationOptions {
  std::string journeys_dir;
  std::string events_file;    // JSONL: one Segment message per line, each with type and timestamp
  std::string profiles_file;  // optional JSONL: {"userId", "traits"} per line
  std::string until;          // optional: a duration after the first event, or a timestamp
};

// Writes one JSON line per effect to `out`, in time order. Journey problems are appended to
// `problems` (and the run does not start); an input error names file:line.
Status simulate(const SimulationOptions& options, std::ostream& out, std::vector<Problem>& problems);

}  // namespace tp::journeys
