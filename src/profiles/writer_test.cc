#include "profiles/writer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <future>

#include "base/time_format.h"
#include "ingest/message_codec.h"
#include "ingest/parser.h"
#include "profiles/card.h"
#include "storage/sqlite_store.h"

namespace tp::profiles {
namespace {

namespace fs = std::filesystem;

// The writer with (true) and without (false) an intake log: the same results either way.
class ProfileWriterTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("tp-writer-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    store_ = std::move(storage::open_sqlite_store(dir_.string())).value();
    open_writer(GetParam());
  }
  void TearDown() override {
    writer_.reset();
    log_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }
  void open_writer(bool with_log) {
    writer_.reset();
    log_.reset();
    if (with_log) log_ = std::move(storage::IntakeLog::open((dir_ / "intake").string())).value();
    auto w = ProfileWriter::create(*store_, clock_, metrics_, log_.get());
    ASSERT_TRUE(w.is_ok()) << w.status().message();
    writer_ = std::move(w).value();
  }
  WriteOutcome wait_applied() {
    std::promise<WriteOutcome> p;
    writer_->when_applied([&](const WriteOutcome& o) { p.set_value(o); });
    return p.get_future().get();
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
  std::unique_ptr<storage::IntakeLog> log_;
  std::unique_ptr<ProfileWriter> writer_;
};

INSTANTIATE_TEST_SUITE_P(Modes, ProfileWriterTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "WithIntakeLog" : "Direct"; });

TEST_P(ProfileWriterTest, OneGroupAppliesRequestsInOrderIncludingErasure) {
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
  // After a request rolled back to its savepoint, the next one takes a savepoint again.
  submit([&](auto done) { writer_->submit(message(R"({"type":"identify","userId":"u2","messageId":"m3"})"), done); });
  writer_->start();
  EXPECT_EQ(results[0].get().stored, 1);
  EXPECT_TRUE(results[1].get().status.is_ok());
  EXPECT_EQ(results[2].get().erased, 1);  // the erasure before it in the same commit counts
  EXPECT_EQ(results[3].get().status.code(), StatusCode::kNotFound);  // fails alone
  EXPECT_EQ(results[4].get().stored, 1);
  EXPECT_EQ(card_status("u1"), StatusCode::kNotFound);
  EXPECT_EQ(card_status("u2"), StatusCode::kOk);
  EXPECT_EQ(metrics_.histogram("touchpoint_commit_group_requests", "", {}).count(), 1);
}

TEST_P(ProfileWriterTest, StopDrainsTheQueueAndRefusesLaterWork) {
  writer_->start();
  auto p = std::make_shared<std::promise<WriteOutcome>>();
  writer_->submit(message(R"({"type":"track","userId":"u2","event":"A"})"), [p](const WriteOutcome& o) { p->set_value(o); });
  writer_->stop();
  EXPECT_EQ(p->get_future().get().stored, 1);
  auto late = writer_->submit_and_wait(message(R"({"type":"track","userId":"u2","event":"B"})"));
  EXPECT_EQ(late.status.code(), StatusCode::kUnavailable);
}

TEST_P(ProfileWriterTest, ADurableAcknowledgementComesFirstAndTheCardWaitsForTheApply) {
  writer_->start();
  std::promise<WriteOutcome> acked;
  writer_->submit_durable(message(R"({"type":"track","userId":"u3","event":"A","messageId":"d1"})"),
                          [&](const WriteOutcome& o) { acked.set_value(o); });
  WriteOutcome ack = acked.get_future().get();
  EXPECT_TRUE(ack.status.is_ok());
  if (GetParam()) {
    EXPECT_EQ(ack.stored, 0);  // counts are not known yet
    // The acknowledgement waited for one timed append to the log.
    EXPECT_EQ(metrics_.histogram("touchpoint_intake_append_seconds", "", {}).count(), 1);
  }
  EXPECT_TRUE(wait_applied().status.is_ok());
  EXPECT_EQ(card_status("u3"), StatusCode::kOk);
  // The same messageId again, acknowledged and ignored.
  auto again = writer_->submit_and_wait(message(R"({"type":"track","userId":"u3","event":"A","messageId":"d1"})"));
  EXPECT_EQ(again.duplicates, 1);
}

// With the log, each apply decodes into the messages of the one before (profiles/intake.cc):
// a smaller request after a larger one holds only its own messages and fields.
TEST_P(ProfileWriterTest, ARequestAfterALargerOneCarriesNothingOfIt) {
  writer_->start();
  std::vector<ingest::Message> three;
  for (const char* json : {R"({"type":"identify","userId":"u6","messageId":"r1","traits":{"plan":"gold"}})",
                           R"({"type":"track","userId":"u6","event":"A","messageId":"r2"})",
                           R"({"type":"track","userId":"u6","event":"B","messageId":"r3"})"})
    three.push_back(std::move(message(json).front()));
  EXPECT_EQ(writer_->submit_and_wait(std::move(three)).stored, 3);
  auto one = writer_->submit_and_wait(message(R"({"type":"identify","userId":"u7","messageId":"r4"})"));
  EXPECT_EQ(one.stored, 1);
  EXPECT_EQ(one.duplicates, 0);
  auto reader = std::move(store_->open_reader()).value();
  auto u7 = std::move(reader->find_identity(storage::IdentityKind::kUser, "u7")).value();
  ASSERT_TRUE(u7.has_value());
  EXPECT_TRUE(std::move(reader->profile(*u7)).value().traits.empty());
}

// What a crash leaves: entries acknowledged (fsynced in the log) that the store never applied.
// The next writer applies them, once, and the store remembers how far it got.
TEST(ProfileWriterRecoveryTest, AcknowledgedEntriesInTheLogAreAppliedAtTheNextStart) {
  fs::path dir = fs::temp_directory_path() / ("tp-writer-recovery-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  ManualClock clock(*parse_iso8601("2026-11-24T12:00:00Z"));
  MetricsRegistry metrics;
  auto store = std::move(storage::open_sqlite_store(dir.string())).value();
  auto entry = [&](const char* json) {
    std::string payload(1, '\x01');  // a request of messages (profiles/intake.cc)
    ingest::encode_message(std::move(ingest::parse_typed(json, clock.now())).value(), payload);
    return payload;
  };
  std::uint64_t end = 0;
  {
    auto log = std::move(storage::IntakeLog::open((dir / "intake").string())).value();
    std::string a = entry(R"({"type":"identify","userId":"ann","messageId":"r1","traits":{"plan":"pro"}})");
    std::string b = entry(R"({"type":"track","userId":"ann","event":"Order Completed","messageId":"r2"})");
    std::string retry = entry(R"({"type":"track","userId":"ann","event":"Order Completed","messageId":"r2"})");
    end = std::move(log->append({a, b, retry})).value().back();
  }
  for (int start = 0; start < 2; ++start) {  // the second start finds nothing left to apply
    auto log = std::move(storage::IntakeLog::open((dir / "intake").string())).value();
    auto writer = std::move(ProfileWriter::create(*store, clock, metrics, log.get())).value();
    writer->start();
    std::promise<void> applied;
    writer->when_applied([&](const WriteOutcome&) { applied.set_value(); });
    applied.get_future().get();
    writer->stop();
  }
  auto reader = std::move(store->open_reader()).value();
  EXPECT_EQ(*reader->intake_position(), end);
  auto card = render_card(*reader, "ann", CardQuery{});
  ASSERT_TRUE(card.is_ok()) << card.status().message();
  EXPECT_NE(card->find(R"("plan":"pro")"), std::string::npos);
  EXPECT_EQ(metrics.counter("touchpoint_events_stored_total", "").value(), 2);
  EXPECT_EQ(metrics.counter("touchpoint_events_duplicate_total", "").value(), 1);
  reader.reset();
  store.reset();
  fs::remove_all(dir);
}

}  // namespace
}  // namespace tp::profiles
