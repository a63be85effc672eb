#include "profiles/writer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <future>

#include "base/time_format.h"
#include "ingest/parser.h"
#include "profiles/card.h"
#include "storage/sqlite_store.h"

namespace tp::profiles {
namespace {

namespace fs = std::filesystem;

class ProfileWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("tp-writer-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    store_ = std::move(storage::open_sqlite_store(dir_.string())).value();
    writer_ = std::move(ProfileWriter::create(*store_, clock_, metrics_)).value();
  }
  void TearDown() override {
    writer_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }
  std::vector<ingest::Message> message(const char* json) {
    std::vector<ingest::Message> out;
    out.push_back(std::move(ingest::parse_typed(json, clock_.now())).value());
    return out;
  }
  StatusCode card_status(const char* user_id) {
    auto reader = std::move(store_->open_reader()).value();
    return render_card(*reader, user_id, CardQuery{}).status().code();
  }

  fs::path dir_;
  ManualClock clock_{*parse_iso8601("2026-11-24T12:00:00Z")};
  MetricsRegistry metrics_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<ProfileWriter> writer_;
};

TEST_F(ProfileWriterTest, OneGroupAppliesRequestsInOrderIncludingErasure) {
  // Queued before start(), the three requests share one commit.
  std::vector<std::future<WriteOutcome>> results;
  auto submit = [&](auto&& call) {
    auto p = std::make_shared<std::promise<WriteOutcome>>();
    results.push_back(p->get_future());
    call([p](const WriteOutcome& o) { p->set_value(o); });
  };
  const char* identify = R"({"type":"identify","userId":"u1","messageId":"m1","traits":{"email":"x@example.se"}})";
  submit([&](auto done) { writer_->submit(message(identify), done); });
  submit([&](auto done) { writer_->erase("u1", done); });
  submit([&](auto done) { writer_->submit(message(R"({"type":"identify","userId":"u1","messageId":"m2"})"), done); });
  submit([&](auto done) { writer_->erase("nobody", done); });
  writer_->start();
  EXPECT_EQ(results[0].get().stored, 1);
  EXPECT_TRUE(results[1].get().status.is_ok());
  EXPECT_EQ(results[2].get().erased, 1);  // the erasure before it in the same commit counts
  EXPECT_EQ(results[3].get().status.code(), StatusCode::kNotFound);  // fails alone
  EXPECT_EQ(card_status("u1"), StatusCode::kNotFound);
  EXPECT_EQ(metrics_.histogram("touchpoint_commit_group_requests", "", {}).count(), 1);
}

TEST_F(ProfileWriterTest, StopDrainsTheQueueAndRefusesLaterWork) {
  writer_->start();
  auto p = std::make_shared<std::promise<WriteOutcome>>();
  writer_->submit(message(R"({"type":"track","userId":"u2","event":"A"})"), [p](const WriteOutcome& o) { p->set_value(o); });
  writer_->stop();
  EXPECT_EQ(p->get_future().get().stored, 1);
  auto late = writer_->submit_and_wait(message(R"({"type":"track","userId":"u2","event":"B"})"));
  EXPECT_EQ(late.status.code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace tp::profiles
