#include "journeys/loader.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "base/file.h"
#include "base/time_format.h"
#include "journeys/engine.h"

namespace tp::journeys {
namespace {

namespace fs = std::filesystem;

std::string read(const fs::path& p) { return read_file(p.string()).value(); }

// Each testdata/invalid/NAME.yaml has NAME.expected: its problems as "line:col: message", sorted.
TEST(Loader, InvalidFilesReportEveryProblemWithPosition) {
  int files = 0;
  for (const auto& e : fs::directory_iterator("src/journeys/testdata/invalid")) {
    if (e.path().extension() != ".yaml") continue;
    ++files;
    std::vector<Problem> problems;
    std::string text = read(e.path());
    if (e.path().stem().string().rfind("policies", 0) == 0)
      EXPECT_FALSE(load_policies("f", text, problems).has_value());
    else
      EXPECT_FALSE(load_journey("f", text, problems).has_value());
    std::stable_sort(problems.begin(), problems.end());
    std::string got;
    for (const auto& p : problems) got += p.to_string().substr(2) + "\n";
    fs::path expected = e.path();
    expected.replace_extension(".expected");
    EXPECT_EQ(got, read(expected)) << e.path();
  }
  EXPECT_GE(files, 6);
}

TEST(Loader, SeedJourneysAreValid) {
  std::vector<Problem> problems;
  auto ws = load_workspace("examples/journeys", problems);
  ASSERT_TRUE(ws.is_ok());
  for (const auto& p : problems) ADD_FAILURE() << p.to_string();
  ASSERT_EQ(ws->journeys.size(), 3u);
  EXPECT_EQ(ws->journeys[0].id, "conversion-from-web");
  EXPECT_EQ(ws->journeys[0].reentry, Reentry::kKey);
  EXPECT_EQ(ws->policies.default_timezone, "Europe/Stockholm");
  ASSERT_EQ(ws->policies.caps.size(), 1u);
  EXPECT_EQ(ws->policies.caps[0].max, 2);
  EXPECT_EQ(ws->policies.quiet_hours, std::make_pair(21 * 60, 8 * 60));
}

TEST(Loader, Durations) {
  EXPECT_EQ(parse_duration("48h"), Millis(48 * 3600000LL));
  EXPECT_EQ(parse_duration("1w2d"), Millis(9 * 86400000LL));
  EXPECT_EQ(parse_duration("-30d"), Millis(-30 * 86400000LL));
  EXPECT_EQ(parse_duration("90m"), Millis(90 * 60000LL));
  for (const char* bad : {"", "48", "h", "48 hours", "2x", "-", "1h-2m"}) EXPECT_FALSE(parse_duration(bad).has_value()) << bad;
  EXPECT_EQ(parse_time_of_day("09:30"), 570);
  for (const char* bad : {"9:30", "24:00", "09:60", "0930", "09-30"}) EXPECT_FALSE(parse_time_of_day(bad).has_value()) << bad;
}

TEST(LocalTime, GapsMoveForwardAndOverlapsTakeTheFirst) {
  const auto* stockholm = date::locate_zone("Europe/Stockholm");
  using date::local_days;
  auto local = [](int y, int m, int d, int h, int min) {
    return date::local_time<Millis>((local_days(date::year(y) / m / d) + std::chrono::hours(h) + std::chrono::minutes(min))
                                        .time_since_epoch());
  };
  EXPECT_EQ(format_iso8601(local_to_instant(stockholm, local(2026, 3, 29, 2, 30))), "2026-03-29T01:30:00.000Z");
  EXPECT_EQ(format_iso8601(local_to_instant(stockholm, local(2026, 10, 25, 2, 30))), "2026-10-25T00:30:00.000Z");
  EXPECT_EQ(format_iso8601(local_to_instant(stockholm, local(2026, 6, 1, 9, 0))), "2026-06-01T07:00:00.000Z");
}

}  // namespace
}  // namespace tp::journeys
