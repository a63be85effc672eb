#include "journeys/simulator.h"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>

#include "base/time_format.h"
#include "journeys/engine.h"

namespace tp::journeys {
namespace {

struct Input {
  Timestamp time;
  Json message;
};

Status read_lines(const std::string& path, const std::function<Status(int line, const std::string& text)>& each) {
  std::ifstream in(path);
  if (!in) return invalid_argument(fmt::format("cannot read {}", path));
  std::string text;
  int line = 0;
  while (std::getline(in, text)) {
    ++line;
    if (!text.empty() && text.back() == '\r') text.pop_back();
    if (text.find_first_not_of(" \t") == std::string::npos) continue;
    TP_TRY(each(line, text));
  }
  return Status::ok();
}

Status read_events(const std::string& path, std::vector<Input>& out) {
  static const char* kTypes[] = {"identify", "track", "page", "screen", "group", "alias"};
  return read_lines(path, [&](int line, const std::string& text) -> Status {
    auto bad = [&](const std::string& why) { return invalid_argument(fmt::format("{}:{}: {}", path, line, why)); };
    Json m = Json::parse(text, nullptr, false);
    if (m.is_discarded()) return bad("not valid JSON");
    if (!m.is_object()) return bad("expected a JSON object (a Segment message)");
    if (!m.contains("type") || !m["type"].is_string()) return bad("missing \"type\"");
    std::string type = m["type"];
    if (std::find(std::begin(kTypes), std::end(kTypes), type) == std::end(kTypes))
      return bad(fmt::format("unknown type \"{}\"", type));
    const Json* user = m.contains("userId") ? &m["userId"] : m.contains("anonymousId") ? &m["anonymousId"] : nullptr;
    if (!user || !user->is_string() || user->get<std::string>().empty()) return bad("missing \"userId\"");
    if (!m.contains("timestamp") || !m["timestamp"].is_string()) return bad("missing \"timestamp\"");
    auto t = parse_iso8601(m["timestamp"].get<std::string>());
    if (!t) return bad(fmt::format("cannot parse timestamp \"{}\"", m["timestamp"].get<std::string>()));
    if (type == "track" && (!m.contains("event") || !m["event"].is_string())) return bad("a track message needs \"event\"");
    out.push_back({*t, std::move(m)});
    return Status::ok();
  });
}

}  // namespace

Status simulate(const SimulationOptions& options, std::ostream& out, std::vector<Problem>& problems) {
  TP_ASSIGN(Workspace ws, load_workspace(options.journeys_dir, problems));
  if (!problems.empty()) return invalid_argument("the journeys have problems");

  std::vector<Input> inputs;
  TP_TRY(read_events(options.events_file, inputs));
  // Input in event-time order; lines with equal times keep their order.
  std::stable_sort(inputs.begin(), inputs.end(), [](const Input& a, const Input& b) { return a.time < b.time; });

  std::string buffer;
  Engine engine(std::move(ws), [&](const Effect& e) {
    buffer.clear();
    e.append_json(buffer);
    buffer.push_back('\n');
    out << buffer;
  });

  if (!options.profiles_file.empty()) {
    TP_TRY(read_lines(options.profiles_file, [&](int line, const std::string& text) -> Status {
      Json p = Json::parse(text, nullptr, false);
      if (p.is_discarded() || !p.is_object() || !p.contains("userId") || !p["userId"].is_string())
        return invalid_argument(fmt::format("{}:{}: expected {{\"userId\": \"…\", \"traits\": {{…}}}}", options.profiles_file, line));
      if (p.contains("traits") && !p["traits"].is_object())
        return invalid_argument(fmt::format("{}:{}: traits must be an object", options.profiles_file, line));
      engine.seed_traits(p["userId"], p.value("traits", Json::object()));
      return Status::ok();
    }));
  }

  std::optional<Timestamp> until;
  if (!options.until.empty()) {
    if (auto d = parse_duration(options.until)) {
      if (inputs.empty()) return invalid_argument("--until: a duration needs at least one event to start from");
      until = inputs.front().time + *d;
    } else if (auto t = parse_iso8601(options.until)) {
      until = *t;
    } else {
      return invalid_argument(fmt::format("--until: \"{}\" is neither a duration (e.g. 30d) nor an ISO-8601 timestamp",
                                          options.until));
    }
  }

  for (auto& input : inputs) {
    if (until && input.time > *until) break;
    engine.on_message(std::move(input.message), input.time);  // each message is read once
  }
  if (until) {
    engine.advance_to(*until);
  } else {
    // Until no timer is pending.
    while (auto next = engine.next_timer(/*include_dates=*/false)) engine.advance_to(*next);
  }
  out.flush();
  return Status::ok();
}

}  // namespace tp::journeys
