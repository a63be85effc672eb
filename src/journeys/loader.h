// Reading journey and policy files (YAML), with every problem reported as file:line:col.
#pragma once

#include <string>
#include <tuple>
#include <vector>

#include "base/status.h"
#include "journeys/definition.h"

namespace tp::journeys {

struct Problem {
  std::string file;
  int line = 0;    // 1-based
  int column = 0;  // 1-based
  std::string message;
  std::string to_string() const;
  bool operator<(const Problem& o) const {
    return std::tie(file, line, column) < std::tie(o.file, o.line, o.column);
  }
};

// Parses and validates one journey file's text. Problems are appended to `problems`; the
// journey is returned only when there were none.
std::optional<Journey> load_journey(const std::string& file, const std::string& text, std::vector<Problem>& problems);
std::optional<Policies> load_policies(const std::string& file, const std::string& text, std::vector<Problem>& problems);

// Read a file from disk, then load_journey / load_policies.
std::optional<Journey> load_journey_file(const std::string& path, std::vector<Problem>& problems);
std::optional<Policies> load_policies_file(const std::string& path, std::vector<Problem>& problems);

struct Workspace {
  std::vector<Journey> journeys;  // sorted by id
  Policies policies;
  // Keep every instance's entry message (live mode: message templates may read event.*);
  // otherwise only journeys whose steps read it keep it.
  bool keep_entry_events = false;
};

// Every *.yaml / *.yml in `dir` is a journey, except policies.yaml and touchpoint.yaml (the
// server configuration: channels, tracking).
Result<Workspace> load_workspace(const std::string& dir, std::vector<Problem>& problems);

// Parses "48h", "30d", "1w2d", "90m", "45s". Negative with a leading "-".
std::optional<Millis> parse_duration(std::string_view text);
// Parses "09:00" into minutes after midnight.
std::optional<int> parse_time_of_day(std::string_view text);

}  // namespace tp::journeys
