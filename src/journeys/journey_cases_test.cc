// Engine behaviour as data. Each folder in testdata/cases/ holds:
//   events.jsonl     the input messages
//   expected.jsonl   the effects `touchpoint simulate` must write, byte for byte
//   journeys/        the journeys and policies.yaml (when absent: examples/journeys)
//   profiles.jsonl   optional starting traits
//   until            optional --until value
// Adding a case is adding a folder. Each case also runs twice to prove determinism.
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>

#include "base/file.h"
#include "journeys/simulator.h"

namespace tp::journeys {
namespace {

namespace fs = std::filesystem;

std::string read(const fs::path& p) { return read_file(p.string()).value(); }

std::vector<fs::path> cases() {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator("src/journeys/testdata/cases"))
    if (e.is_directory()) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

std::string run(const fs::path& dir) {
  SimulationOptions o;
  o.journeys_dir = fs::exists(dir / "journeys") ? (dir / "journeys").string() : "examples/journeys";
  o.events_file = (dir / "events.jsonl").string();
  if (fs::exists(dir / "profiles.jsonl")) o.profiles_file = (dir / "profiles.jsonl").string();
  if (fs::exists(dir / "until")) {
    o.until = read(dir / "until");
    while (!o.until.empty() && (o.until.back() == '\n' || o.until.back() == ' ')) o.until.pop_back();
  }
  std::ostringstream out;
  std::vector<Problem> problems;
  Status s = simulate(o, out, problems);
  for (const auto& p : problems) ADD_FAILURE() << p.to_string();
  EXPECT_TRUE(s.is_ok()) << s.message();
  return out.str();
}

class JourneyCase : public ::testing::TestWithParam<fs::path> {};

TEST_P(JourneyCase, WritesExpectedEffects) {
  const fs::path dir = GetParam();
  std::string got = run(dir);
  std::string want = read(dir / "expected.jsonl");
  if (got != want) {
    std::istringstream g(got), w(want);
    std::string gl, wl;
    int line = 0;
    while (true) {
      bool more_g = static_cast<bool>(std::getline(g, gl));
      bool more_w = static_cast<bool>(std::getline(w, wl));
      ++line;
      if (!more_g && !more_w) break;
      if (gl != wl || more_g != more_w) {
        ADD_FAILURE() << dir.filename() << " line " << line << "\n  want: " << (more_w ? wl : "<end>")
                      << "\n  got:  " << (more_g ? gl : "<end>");
        break;
      }
    }
  }
  EXPECT_EQ(run(dir), got) << "the same input must give the same bytes";
}

INSTANTIATE_TEST_SUITE_P(Cases, JourneyCase, ::testing::ValuesIn(cases()), [](const auto& info) {
  std::string name = info.param.filename().string();
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
});

}  // namespace
}  // namespace tp::journeys
