// Identity resolution as data: each file in testdata/identity/ lists input messages (and
// erasures) and the customer cards expected afterwards. Adding a case is adding a file.
//
// File shape:
//   {"steps": [ <Segment message with "type"> | {"erase": "<userId>"} ... ],
//    "expect": { "<userId>": null (404) | {"userId", "userIds", "anonymousIds", "traits",
//                 "groups": [groupId...], "consent": {...}, "timeline": [messageId, newest first]} } }
// Keys left out of an expected card are not checked.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "base/time_format.h"
#include "ingest/parser.h"
#include "profiles/card.h"
#include "profiles/writer.h"
#include "storage/sqlite_store.h"

namespace tp::profiles {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::vector<fs::path> case_files() {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator("src/profiles/testdata/identity"))
    if (e.path().extension() == ".json") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  return files;
}

class IdentityCase : public ::testing::TestWithParam<fs::path> {};

TEST_P(IdentityCase, ProducesExpectedCards) {
  std::ifstream in(GetParam());
  json spec = json::parse(in);
  fs::path dir = fs::temp_directory_path() / ("tp-identity-" + std::to_string(::getpid()) + "-" +
                                              GetParam().stem().string());
  fs::remove_all(dir);
  fs::create_directories(dir);
  {
    auto store = std::move(storage::open_sqlite_store(dir.string())).value();
    ManualClock clock(*parse_iso8601("2026-11-24T12:00:00Z"));
    MetricsRegistry metrics;
    auto writer = std::move(ProfileWriter::create(*store, clock, metrics)).value();
    writer->start();
    int step = 0;
    for (const auto& s : spec.at("steps")) {
      ++step;
      if (s.contains("erase")) {
        auto out = writer->erase_and_wait(s["erase"].get<std::string>());
        ASSERT_TRUE(out.status.is_ok()) << "step " << step << ": " << out.status.message();
        continue;
      }
      auto m = ingest::parse_typed(s.dump(), clock.now());
      ASSERT_TRUE(m.is_ok()) << "step " << step << ": " << m.status().message();
      std::vector<ingest::Message> batch;
      batch.push_back(std::move(m).value());
      auto out = writer->submit_and_wait(std::move(batch));
      ASSERT_TRUE(out.status.is_ok()) << "step " << step << ": " << out.status.message();
    }
    writer->stop();

    auto reader = std::move(store->open_reader()).value();
    for (const auto& [user_id, want] : spec.at("expect").items()) {
      auto card = render_card(*reader, user_id, CardQuery{1000, std::nullopt});
      if (want.is_null()) {
        EXPECT_EQ(card.status().code(), StatusCode::kNotFound) << user_id;
        continue;
      }
      ASSERT_TRUE(card.is_ok()) << user_id << ": " << card.status().message();
      json got = json::parse(*card);
      for (const char* key : {"userId", "userIds", "anonymousIds", "traits", "consent", "owner"}) {
        if (want.contains(key)) {
          EXPECT_EQ(got[key], want[key]) << user_id << " " << key;
        }
      }
      if (want.contains("groups")) {
        json ids = json::array();
        for (const auto& g : got["groups"]) ids.push_back(g["groupId"]);
        EXPECT_EQ(ids, want["groups"]) << user_id;
      }
      if (want.contains("timeline")) {
        json ids = json::array();
        for (const auto& e : got["timeline"]) ids.push_back(e["messageId"]);
        EXPECT_EQ(ids, want["timeline"]) << user_id;
      }
    }
  }
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Files, IdentityCase, ::testing::ValuesIn(case_files()),
                         [](const auto& info) {
                           std::string name = info.param.stem().string();
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

}  // namespace
}  // namespace tp::profiles
