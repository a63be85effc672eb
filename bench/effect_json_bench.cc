// effect_json_bench: writing one `touchpoint simulate` output line (an effect as a JSON object).
//
// Rows, each reporting items/s (items = lines) and bytes/s of JSON written:
//   touchpoint_effect_line   tp::journeys::Effect::append_json: the line simulate writes
//   nlohmann_effect_line     the same object built as an nlohmann::json and dumped: what a user
//                            would write with the library at hand
// Both write the same bytes (checked before the runs). Three effects of the seed journey
// conversion-from-web take turns: a send, a task and an update.
#include <benchmark/benchmark.h>

#include <nlohmann/json.hpp>

#include "base/time_format.h"
#include "journeys/engine.h"

namespace {

using tp::journeys::Effect;

const std::vector<Effect>& effects() {
  static const std::vector<Effect> all = [] {
    tp::Timestamp t = tp::Timestamp(tp::Millis(1772445600123));  // 2026-03-02T10:00:00.123Z
    std::vector<Effect> v(3);
    v[0].time = t;
    v[0].user_id = "user-0012345";
    v[0].journey = "conversion-from-web";
    v[0].step = "reminder";
    v[0].action = "send";
    v[0].channel = "email";
    v[0].template_name = "whitepaper-reminder";
    v[1] = v[0];
    v[1].step = "call-task";
    v[1].action = "task";
    v[1].channel = {};
    v[1].template_name = "call-lead";
    v[1].assignee = "rep-07";
    v[2] = v[0];
    v[2].step = "set-welcome";
    v[2].action = "update";
    v[2].channel = v[2].template_name = {};
    v[2].trait = "lifecycle_phase";
    v[2].value = "welcome";
    return v;
  }();
  return all;
}

std::string nlohmann_line(const Effect& e) {
  nlohmann::ordered_json j;
  j["time"] = tp::format_iso8601(e.time);
  j["userId"] = e.user_id;
  j["journey"] = e.journey;
  j["step"] = e.step;
  j["action"] = e.action;
  auto field = [&](const char* key, std::string_view v) {
    if (!v.empty()) j[key] = v;
  };
  field("channel", e.channel);
  field("template", e.template_name);
  field("reason", e.reason);
  field("assignee", e.assignee);
  field("trait", e.trait);
  if (!e.trait.empty()) j["value"] = e.value;
  return j.dump();
}

template <typename Write>
void run(benchmark::State& state, Write write) {
  const auto& all = effects();
  std::string out;
  size_t i = 0;
  int64_t bytes = 0;
  for (auto _ : state) {
    out.clear();
    write(all[i], out);
    bytes += static_cast<int64_t>(out.size());
    benchmark::DoNotOptimize(out.data());
    if (++i == all.size()) i = 0;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.SetBytesProcessed(bytes);
}

void touchpoint_effect_line(benchmark::State& state) {
  run(state, [](const Effect& e, std::string& out) { e.append_json(out); });
}

void nlohmann_effect_line(benchmark::State& state) {
  run(state, [](const Effect& e, std::string& out) { out = nlohmann_line(e); });
}

BENCHMARK(touchpoint_effect_line);
BENCHMARK(nlohmann_effect_line);

}  // namespace

int main(int argc, char** argv) {
  for (const Effect& e : effects()) {
    std::string mine;
    e.append_json(mine);
    if (mine != nlohmann_line(e)) {
      fprintf(stderr, "effect_json_bench: the two lines differ:\n%s\n%s\n", mine.c_str(), nlohmann_line(e).c_str());
      return 1;
    }
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
