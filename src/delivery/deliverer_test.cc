// The outbox worker on real stores, real templates and a real SMTP server (aiosmtpd) on
// loopback: delivered once, retried with back-off, failed to the dead-letter list, in doubt
// after a crash.
#include "delivery/deliverer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "base/time_format.h"
#include "channels/testing/smtp_sink_process.h"
#include "ingest/parser.h"
#include "journeys/runner.h"
#include "profiles/writer.h"
#include "storage/sqlite_journey_store.h"
#include "storage/sqlite_store.h"

namespace tp::delivery {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr const char* kJourney = R"(id: welcome
name: Welcome
send_type: transactional
entry: {event: Signed Up}
steps:
  - id: hello
    send: {channel: email, template: hello}
  - id: offer
    send: {channel: email, template: offer}
    send_type: commercial
  - id: ping
    send: {channel: sms, template: ping}
)";

constexpr const char* kHello = R"(---
subject: "Hello {{ user.traits.name | default: 'there' }}"
from: "Touchpoint <hello@example.com>"
---
{% part html %}<p>Hi {{ user.traits.name }}, welcome to {{ journey.id }}.</p>{% endpart %}
{% part text %}Hi {{ user.traits.name }}, welcome.{% endpart %}
)";

constexpr const char* kOffer = R"(---
subject: "An offer"
from: "Touchpoint <offers@example.com>"
---
{% part html %}<p>Unsubscribe: {{ message.unsubscribe_url }}</p>{% endpart %}
)";

class DelivererTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("tp-deliverer-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "sink");
    write_journeys(dir_ / "journeys");
    store_ = std::move(storage::open_sqlite_store(dir_.string())).value();
    journey_store_ = std::move(storage::open_sqlite_journey_store(dir_.string())).value();
    writer_ = std::move(profiles::ProfileWriter::create(*store_, clock_, metrics_)).value();
    writer_->start();
    std::vector<journeys::Problem> problems;
    auto ws = journeys::load_live_workspace((dir_ / "journeys").string(), *journey_store_, clock_.now(), problems);
    ASSERT_TRUE(ws.is_ok()) << ws.status().message();
    runner_ = std::move(journeys::Runner::create(std::move(ws).value(), *store_, *journey_store_, clock_, metrics_,
                                                  nullptr, {}))
                  .value();
    templates_ = std::move(templates::load_template_dir((dir_ / "journeys" / "templates").string())).value();
    auto sink = channels::testing::SmtpSinkProcess::start(dir_ / "sink");
    ASSERT_TRUE(sink.is_ok()) << sink.status().message();
    sink_ = std::move(sink).value();
    channels::SmtpConfig smtp;
    smtp.host = "127.0.0.1";
    smtp.port = sink_->port();
    smtp.tls = channels::SmtpTls::kNone;
    email_ = std::move(channels::EmailSender::create(smtp, clock_)).value();
  }
  virtual void write_journeys(const fs::path& to) {
    fs::create_directories(to / "templates");
    std::ofstream(to / "welcome.yaml") << kJourney;
    std::ofstream(to / "templates" / "hello.email.liquid") << kHello;
    std::ofstream(to / "templates" / "offer.email.liquid") << kOffer;
  }
  void TearDown() override {
    deliverer_.reset();
    runner_.reset();
    writer_.reset();
    sink_.reset();
    fs::remove_all(dir_);
  }

  void ingest(const std::string& json) {
    std::vector<ingest::Message> batch;
    batch.push_back(std::move(ingest::parse_typed(json, clock_.now())).value());
    ASSERT_TRUE(writer_->submit_and_wait(std::move(batch)).status.is_ok());
  }
  // A fresh worker over the same stores, as after a restart.
  void start_deliverer(Options options = {}) {
    deliverer_.reset();
    Deps deps{*journey_store_, *store_, templates_, email_.get(), nullptr, nullptr, clock_, metrics_};
    deps.unsubscribe_url = [](const storage::DeliveryRow& row) { return "https://t.example.com/u/" + row.key; };
    auto d = Deliverer::create(std::move(deps), std::move(options));
    ASSERT_TRUE(d.is_ok()) << d.status().message();
    deliverer_ = std::move(d).value();
  }
  size_t round() {
    auto n = deliverer_->run_once();
    EXPECT_TRUE(n.is_ok()) << n.status().message();
    return n.is_ok() ? *n : 0;
  }
  std::map<std::string, std::string> statuses() {
    std::map<std::string, std::string> out;
    for (const char* s : {"pending", "sending", "delivered", "failed"}) {
      auto rows = std::move(journey_store_->deliveries(s, 100)).value();
      for (const auto& row : rows) out[row.step] = s;
    }
    return out;
  }

  fs::path dir_;
  ManualClock clock_{*parse_iso8601("2026-03-02T10:00:00Z")};
  MetricsRegistry metrics_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<storage::JourneyStore> journey_store_;
  std::unique_ptr<profiles::ProfileWriter> writer_;
  std::unique_ptr<journeys::Runner> runner_;
  templates::TemplateSet templates_;
  std::unique_ptr<channels::testing::SmtpSinkProcess> sink_;
  std::unique_ptr<channels::EmailSender> email_;
  std::unique_ptr<Deliverer> deliverer_;
};

TEST_F(DelivererTest, DeliversEachSendOnceAndFailsWhatCannotGo) {
  ingest(R"({"type":"identify","userId":"ann","traits":{"email":"ann@example.com","name":"Ann","phone":"+46701234567"}})");
  ingest(R"({"type":"track","userId":"ann","event":"Signed Up"})");
  ASSERT_TRUE(runner_->run_once().is_ok());
  start_deliverer();
  EXPECT_EQ(round(), 3u);
  EXPECT_EQ(round(), 0u);  // nothing twice

  auto received = sink_->messages();
  ASSERT_EQ(received.size(), 2u);
  // Sent in parallel: find each by its subject.
  if (received[0].data.find("Subject: Hello") == std::string::npos) std::swap(received[0], received[1]);
  const std::string& hello = received[0].data;
  EXPECT_NE(hello.find("Subject: Hello Ann"), std::string::npos) << hello;
  EXPECT_NE(hello.find("Hi Ann, welcome to welcome."), std::string::npos) << hello;
  EXPECT_EQ(hello.find("List-Unsubscribe"), std::string::npos) << "transactional mail has no unsubscribe header";
  EXPECT_EQ(received[0].envelope["rcpt_tos"], nlohmann::json::array({"ann@example.com"}));
  const std::string& offer = received[1].data;
  EXPECT_NE(offer.find("List-Unsubscribe: <https://t.example.com/u/"), std::string::npos) << offer;
  EXPECT_NE(offer.find("List-Unsubscribe-Post: List-Unsubscribe=One-Click"), std::string::npos) << offer;

  // The SMS channel is not configured: failed, with the reason, on the dead-letter list.
  EXPECT_EQ(statuses(), (std::map<std::string, std::string>{{"hello", "delivered"}, {"offer", "delivered"}, {"ping", "failed"}}));
  auto dead = std::move(journey_store_->deliveries("failed", 10)).value();
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_NE(dead[0].last_error.find("channel sms is not configured"), std::string::npos) << dead[0].last_error;
  auto counts = std::move(journey_store_->step_counts("welcome")).value();
  int delivered = 0, failed = 0;
  for (const auto& c : counts) {
    delivered += c.metric == "delivered" ? static_cast<int>(c.count) : 0;
    failed += c.metric == "failed" ? static_cast<int>(c.count) : 0;
  }
  EXPECT_EQ(delivered, 2);
  EXPECT_EQ(failed, 1);

  // `touchpoint outbox retry` puts it back; still no SMS channel, so it fails again.
  EXPECT_EQ(std::move(journey_store_->retry_failed(std::nullopt, clock_.now())).value(), 1);
  EXPECT_EQ(round(), 1u);
  EXPECT_EQ(statuses()["ping"], "failed");
  EXPECT_EQ(sink_->messages().size(), 2u);
}

TEST_F(DelivererTest, TemporaryFailuresRetryWithBackoffThenDeliverOnce) {
  // The sink answers 451 for this recipient: a temporary failure.
  ingest(R"({"type":"identify","userId":"bob","traits":{"email":"tempfail@example.com","name":"Bob"}})");
  ingest(R"({"type":"track","userId":"bob","event":"Signed Up"})");
  ASSERT_TRUE(runner_->run_once().is_ok());
  Options options;
  options.first_backoff = 60s;
  start_deliverer(options);
  round();
  EXPECT_EQ(statuses()["hello"], "pending");
  auto pending = std::move(journey_store_->deliveries("pending", 10)).value();
  ASSERT_FALSE(pending.empty());
  EXPECT_EQ(pending[0].attempts, 1);
  EXPECT_GE(pending[0].next_attempt, clock_.now() + 30s);  // at least half the back-off
  EXPECT_NE(pending[0].last_error.find("451"), std::string::npos) << pending[0].last_error;
  EXPECT_EQ(round(), 0u);  // not due yet

  // The address is fixed; after the back-off the message goes, once.
  ingest(R"({"type":"identify","userId":"bob","traits":{"email":"bob@example.com"}})");
  clock_.advance(10min);
  round();
  EXPECT_EQ(statuses()["hello"], "delivered");
  clock_.advance(1h);
  round();
  size_t to_bob = 0;
  for (const auto& m : sink_->messages()) to_bob += m.data.find("Subject: Hello Bob") != std::string::npos;
  EXPECT_EQ(to_bob, 1u);
}

TEST_F(DelivererTest, RateLimitBelowOnePerSecondPacesTheChannel) {
  ingest(R"({"type":"identify","userId":"di","traits":{"email":"di@example.com","name":"Di"}})");
  ingest(R"({"type":"track","userId":"di","event":"Signed Up"})");
  ASSERT_TRUE(runner_->run_once().is_ok());
  Options options;
  options.rate_per_second["email"] = 0.5;  // one email every 2 s
  start_deliverer(options);
  EXPECT_EQ(round(), 1u);  // one of the two emails (no phone: the SMS step is suppressed)
  EXPECT_EQ(round(), 0u);
  clock_.advance(1s);
  EXPECT_EQ(round(), 0u);  // half a token
  clock_.advance(1s);
  EXPECT_EQ(round(), 1u);  // the second email
  EXPECT_EQ(sink_->messages().size(), 2u);
}

TEST_F(DelivererTest, InDoubtAfterACrashIsSentAgainWithTheSameMessageId) {
  ingest(R"({"type":"identify","userId":"cy","traits":{"email":"cy@example.com","name":"Cy"}})");
  ingest(R"({"type":"track","userId":"cy","event":"Signed Up"})");
  ASSERT_TRUE(runner_->run_once().is_ok());
  start_deliverer();
  round();
  auto first = sink_->messages();
  ASSERT_GE(first.size(), 1u);
  // As if the process died after the SMTP server accepted "hello" but before it was recorded.
  auto delivered = std::move(journey_store_->deliveries("delivered", 10)).value();
  auto hello = std::find_if(delivered.begin(), delivered.end(), [](const auto& d) { return d.step == "hello"; });
  ASSERT_NE(hello, delivered.end());
  hello->status = "sending";
  {
    auto tx = std::move(journey_store_->begin_write()).value();
    ASSERT_TRUE(tx->put_delivery(*hello).is_ok());
    ASSERT_TRUE(tx->commit().is_ok());
  }
  start_deliverer();  // the restart
  EXPECT_EQ(statuses()["hello"], "pending");
  round();
  EXPECT_EQ(statuses()["hello"], "delivered");
  auto after = sink_->messages();
  ASSERT_EQ(after.size(), first.size() + 1);
  auto message_id = [](const std::string& data) {
    auto at = data.find("Message-ID: ");
    return data.substr(at, data.find("\r\n", at) - at);
  };
  // The two first messages went in parallel: compare with the one that was "hello".
  auto first_hello = std::find_if(first.begin(), first.end(),
                                  [](const auto& m) { return m.data.find("Subject: Hello Cy") != std::string::npos; });
  ASSERT_NE(first_hello, first.end());
  EXPECT_NE(after.back().data.find("Subject: Hello Cy"), std::string::npos);
  EXPECT_EQ(message_id(after.back().data), message_id(first_hello->data));
}

// The seed journey conversion-from-web (examples/journeys) as it runs live, on an injected
// clock: the confirmation goes at once; without an open the reminder arrives 48 h later, with
// an open it never does.
class SeedJourneyTest : public DelivererTest {
 protected:
  void write_journeys(const fs::path& to) override {
    fs::copy("examples/journeys", to, fs::copy_options::recursive);
  }
  // The runner and the worker, as the server's threads would run them at this moment.
  size_t tick() {
    EXPECT_TRUE(runner_->run_once().is_ok());
    return round();
  }
  std::vector<std::string> subjects_to(const std::string& address) {
    std::vector<std::string> out;
    for (const auto& m : sink_->messages()) {
      if (m.envelope["rcpt_tos"] != nlohmann::json::array({address})) continue;
      auto at = m.data.find("\r\nSubject: ");
      out.push_back(m.data.substr(at + 11, m.data.find("\r\n", at + 2) - at - 11));
    }
    return out;
  }
};

TEST_F(SeedJourneyTest, NoOpenMeansTheReminderArrives48HoursLaterAndAnOpenMeansItNeverDoes) {
  start_deliverer();
  ingest(R"({"type":"identify","userId":"ann","traits":{"email":"ann@example.com","first_name":"Ann"}})");
  ingest(R"({"type":"identify","userId":"bo","traits":{"email":"bo@example.com","first_name":"Bo"}})");
  ingest(R"({"type":"track","userId":"ann","event":"Form Submitted","properties":{"form":"guide","title":"The Guide"}})");
  ingest(R"({"type":"track","userId":"bo","event":"Form Submitted","properties":{"form":"guide","title":"The Guide"}})");
  EXPECT_EQ(tick(), 2u);
  ASSERT_EQ(subjects_to("ann@example.com").size(), 1u);
  ASSERT_EQ(subjects_to("bo@example.com").size(), 1u);
  const std::string confirmation = subjects_to("ann@example.com")[0];

  // Bo opens the confirmation on day 1 (the tracking pixel's event names the send).
  clock_.advance(24h);
  ingest(R"({"type":"track","userId":"bo","event":"Email Opened",)"
         R"("properties":{"journey":"conversion-from-web","step":"confirmation"}})");
  EXPECT_EQ(tick(), 0u);

  // One minute before the 48 h are up: nothing yet.
  clock_.advance(24h - 1min);
  EXPECT_EQ(tick(), 0u);
  EXPECT_EQ(subjects_to("ann@example.com").size(), 1u);

  // At 48 h Ann's reminder goes, once; Bo gets nothing more.
  clock_.advance(1min);
  EXPECT_EQ(tick(), 1u);
  clock_.advance(1h);
  EXPECT_EQ(tick(), 0u);
  auto ann = subjects_to("ann@example.com");
  ASSERT_EQ(ann.size(), 2u);
  EXPECT_NE(ann[1], confirmation) << "the second message is the reminder";
  EXPECT_EQ(subjects_to("bo@example.com").size(), 1u);
  auto reminder = std::move(journey_store_->deliveries("delivered", 10)).value();
  auto it = std::find_if(reminder.begin(), reminder.end(), [](const auto& d) { return d.step == "reminder"; });
  ASSERT_NE(it, reminder.end());
  EXPECT_EQ(it->user_id, "ann");
  EXPECT_EQ(it->next_attempt, *parse_iso8601("2026-03-04T10:00:00Z")) << "due exactly 48 h after the form";
}

}  // namespace
}  // namespace tp::delivery
