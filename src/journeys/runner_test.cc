// Live mode on real SQLite stores and a virtual clock: restarts neither lose nor repeat steps,
// running instances keep their version, erasure forgets, date triggers and tasks work.
#include "journeys/runner.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <thread>

#include "base/time_format.h"
#include "ingest/parser.h"
#include "profiles/writer.h"
#include "storage/sqlite_db.h"
#include "storage/sqlite_journey_store.h"
#include "storage/sqlite_store.h"

namespace tp::journeys {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr const char* kDelayJourney = R"(id: nudge
name: Nudge
send_type: transactional
entry: {event: Signed Up}
steps:
  - id: hello
    send: {channel: email, template: hello}
  - id: later
    delay: 1h
    send: {channel: email, template: TEMPLATE}
  - id: call
    task: {template: call}
)";

class RunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("tp-runner-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "journeys");
    store_ = std::move(storage::open_sqlite_store(dir_.string())).value();
    journey_store_ = std::move(storage::open_sqlite_journey_store(dir_.string())).value();
    writer_ = std::move(profiles::ProfileWriter::create(*store_, clock_, metrics_)).value();
    writer_->start();
  }
  void TearDown() override {
    runner_.reset();
    writer_.reset();
    journey_store_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }

  void write_journey(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / "journeys" / name) << text;
  }
  // A fresh runner over the same stores, as after a restart.
  void restart() {
    runner_.reset();
    std::vector<Problem> problems;
    auto ws = load_live_workspace((dir_ / "journeys").string(), *journey_store_, clock_.now(), problems);
    ASSERT_TRUE(ws.is_ok()) << ws.status().message() << (problems.empty() ? "" : problems[0].to_string());
    auto r = Runner::create(std::move(ws).value(), *store_, *journey_store_, clock_, metrics_, nullptr, {});
    ASSERT_TRUE(r.is_ok()) << r.status().message();
    runner_ = std::move(r).value();
  }
  void ingest(const std::string& json) {
    std::vector<ingest::Message> batch;
    batch.push_back(std::move(ingest::parse_typed(json, clock_.now())).value());
    ASSERT_TRUE(writer_->submit_and_wait(std::move(batch)).status.is_ok());
  }
  void run() {
    ASSERT_TRUE(runner_->run_once().is_ok());
    expect_waiting_counts_the_instances();
  }
  // The stats' `waiting` counter (kept by the runner, no index) is the instances at each step.
  void expect_waiting_counts_the_instances() {
    EXPECT_EQ(rows("SELECT journey || ' ' || step, count FROM step_counts WHERE metric = 'waiting' AND count != 0"),
              rows("SELECT journey || ' ' || step, count(*) FROM instances "
                   "WHERE id NOT IN (SELECT id FROM finished_instances) GROUP BY journey, step"));
  }
  // journeys.db read directly: (text, count) rows as a map.
  std::map<std::string, std::int64_t> rows(const char* sql) {
    auto db = std::move(storage::sqlite::Database::open((dir_ / "journeys.db").string(),
                                                        storage::sqlite::Database::Mode::kReadOnly)).value();
    std::map<std::string, std::int64_t> out;
    auto q = std::move(db->prepare(sql)).value();
    while (*q.step()) out[std::string(q.column_text(0))] = q.column_int(1);
    return out;
  }
  std::int64_t count(const char* table) {
    return rows(fmt::format("SELECT '', count(*) FROM {}", table).c_str())[""];
  }
  // The outbox as "user journey step action template" lines.
  std::vector<std::string> outbox() {
    std::vector<std::string> out;
    auto rows = std::move(journey_store_->effects_after(0, 1000)).value();
    for (const auto& row : rows) {
      auto body = nlohmann::json::parse(row.body);
      out.push_back(row.user_id + " " + row.journey + " " + row.step + " " + row.action +
                    (body.contains("template") ? " " + body["template"].get<std::string>() : ""));
    }
    return out;
  }

  fs::path dir_;
  ManualClock clock_{*parse_iso8601("2026-03-02T10:00:00Z")};
  MetricsRegistry metrics_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<storage::JourneyStore> journey_store_;
  std::unique_ptr<profiles::ProfileWriter> writer_;
  std::unique_ptr<Runner> runner_;
};

std::string with_template(std::string text, const std::string& name) {
  return text.replace(text.find("TEMPLATE"), 8, name);
}

// The real journey store, with a note of how each write transaction asked to be synced.
class SyncNotingStore final : public storage::JourneyStore {
 public:
  explicit SyncNotingStore(storage::JourneyStore& inner) : inner_(inner) {}
  std::vector<Sync> syncs;

  Result<std::unique_ptr<storage::JourneyWrite>> begin_write(Sync sync) override {
    syncs.push_back(sync);
    return inner_.begin_write(sync);
  }
  Result<int> purge_finished(int limit) override { return inner_.purge_finished(limit); }
  Result<std::optional<std::int64_t>> meta(std::string_view name) override { return inner_.meta(name); }
  Result<std::vector<storage::JourneyVersionRow>> versions() override { return inner_.versions(); }
  Status load(const std::function<void(std::string_view, std::string_view)>& person,
              const std::function<void(std::string_view)>& instance) override {
    return inner_.load(person, instance);
  }
  Result<std::vector<storage::OutboxRow>> effects_after(std::int64_t after, int limit) override {
    return inner_.effects_after(after, limit);
  }
  Result<std::vector<storage::TaskRow>> open_tasks(std::optional<std::string> assignee, int limit) override {
    return inner_.open_tasks(std::move(assignee), limit);
  }
  Result<std::optional<storage::TaskRow>> complete_task(std::int64_t id, Timestamp now) override {
    return inner_.complete_task(id, now);
  }
  Result<std::vector<storage::DeliveryRow>> due_deliveries(Timestamp now, int limit) override {
    return inner_.due_deliveries(now, limit);
  }
  Result<std::vector<storage::DeliveryRow>> deliveries(std::string_view status, int limit) override {
    return inner_.deliveries(status, limit);
  }
  Result<std::optional<storage::DeliveryRow>> delivery_by_provider_id(std::string_view channel,
                                                                      std::string_view provider_id) override {
    return inner_.delivery_by_provider_id(channel, provider_id);
  }
  Result<int> retry_failed(std::optional<std::string> key, Timestamp now) override {
    return inner_.retry_failed(std::move(key), now);
  }
  Result<std::vector<storage::StepCount>> step_counts(std::string_view journey) override {
    return inner_.step_counts(journey);
  }
  Result<std::vector<storage::StepCount>> active_by_step(std::string_view journey) override {
    return inner_.active_by_step(journey);
  }

 private:
  storage::JourneyStore& inner_;
};

// Steps are derived from the durable event log, so the runner commits them without an fsync
// (docs/storage.md, "Deferred runner commits"); an erasure is answered from its commit, so that
// one is synced.
TEST_F(RunnerTest, StepsCommitDeferredAndAnErasureDurably) {
  using Sync = storage::JourneyStore::Sync;
  write_journey("nudge.yaml", with_template(kDelayJourney, "later"));
  SyncNotingStore noting(*journey_store_);
  std::vector<Problem> problems;
  auto ws = load_live_workspace((dir_ / "journeys").string(), noting, clock_.now(), problems);
  ASSERT_TRUE(ws.is_ok()) << ws.status().message();
  auto runner = std::move(Runner::create(std::move(ws).value(), *store_, noting, clock_, metrics_, nullptr, {})).value();
  ingest(R"({"type":"identify","userId":"ann","traits":{"email":"ann@example.com"}})");
  ingest(R"({"type":"track","userId":"ann","event":"Signed Up"})");
  noting.syncs.clear();  // start-up records are durable; not what this test is about
  ASSERT_TRUE(runner->run_once().is_ok());
  clock_.advance(2h);
  ASSERT_TRUE(runner->run_once().is_ok());
  EXPECT_EQ(noting.syncs, (std::vector<Sync>{Sync::kDeferred, Sync::kDeferred}));
  EXPECT_EQ(outbox().size(), 5u);  // enter, hello, later, the task, exit: committed and visible

  noting.syncs.clear();
  std::promise<Status> erased;
  runner->erase("ann", [&](Status s) { erased.set_value(s); });
  ASSERT_TRUE(runner->run_once().is_ok());
  ASSERT_TRUE(erased.get_future().get().is_ok());
  EXPECT_EQ(noting.syncs, std::vector<Sync>{Sync::kDurable});
  EXPECT_TRUE(outbox().empty());
}

TEST_F(RunnerTest, TimerDueAfterRestartRunsOnceAndTasksCanBeClosed) {
  write_journey("nudge.yaml", with_template(kDelayJourney, "later"));
  restart();
  ingest(R"({"type":"identify","userId":"ann","traits":{"email":"ann@example.com","owner":"sara"}})");
  ingest(R"({"type":"track","userId":"ann","event":"Signed Up"})");
  run();
  EXPECT_EQ(outbox(), (std::vector<std::string>{"ann nudge hello enter", "ann nudge hello send hello"}));

  clock_.advance(2h);
  restart();  // the timer became due while the runner was down
  run();
  run();
  restart();
  run();
  EXPECT_EQ(outbox(), (std::vector<std::string>{"ann nudge hello enter", "ann nudge hello send hello",
                                                "ann nudge later send later", "ann nudge call task call",
                                                "ann nudge call exit"}));

  auto tasks = std::move(journey_store_->open_tasks(std::string("sara"), 10)).value();
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_EQ(tasks[0].user_id, "ann");
  EXPECT_EQ(tasks[0].template_name, "call");
  auto done = std::move(journey_store_->complete_task(tasks[0].id, clock_.now())).value();
  ASSERT_TRUE(done && done->done);
  EXPECT_TRUE(std::move(journey_store_->open_tasks(std::string("sara"), 10)).value().empty());
  EXPECT_FALSE(std::move(journey_store_->complete_task(999, clock_.now())).value());
}

TEST_F(RunnerTest, RunningInstancesFinishOnTheVersionTheyStartedOn) {
  write_journey("nudge.yaml", with_template(kDelayJourney, "old-template"));
  restart();
  ingest(R"({"type":"identify","userId":"ann","traits":{"email":"ann@example.com"}})");
  ingest(R"({"type":"track","userId":"ann","event":"Signed Up"})");
  run();

  write_journey("nudge.yaml", with_template(kDelayJourney, "new-template"));
  restart();
  ingest(R"({"type":"identify","userId":"bob","traits":{"email":"bob@example.com"}})");
  ingest(R"({"type":"track","userId":"bob","event":"Signed Up"})");
  run();  // bob enters on the new version
  clock_.advance(2h);
  run();
  auto lines = outbox();
  EXPECT_NE(std::find(lines.begin(), lines.end(), "ann nudge later send old-template"), lines.end());
  EXPECT_NE(std::find(lines.begin(), lines.end(), "bob nudge later send new-template"), lines.end());
  EXPECT_EQ(std::count_if(lines.begin(), lines.end(), [](const auto& l) { return l.find(" later send ") != std::string::npos; }), 2);
}

TEST_F(RunnerTest, ErasureForgetsThePersonsJourneys) {
  write_journey("nudge.yaml", with_template(kDelayJourney, "later"));
  std::string upgrade = with_template(kDelayJourney, "upgrade");
  upgrade.replace(upgrade.find("id: nudge"), 9, "id: upsell").replace(upgrade.find("Signed Up"), 9, "Upgraded");
  write_journey("upsell.yaml", upgrade);
  restart();
  for (const char* user : {"ann", "bob"}) {
    ingest(fmt::format(R"({{"type":"identify","userId":"{0}","traits":{{"email":"{0}@example.com","owner":"sara"}}}})", user));
    ingest(fmt::format(R"({{"type":"track","userId":"{}","event":"Signed Up"}})", user));
  }
  run();
  clock_.advance(2h);
  run();  // both finish `nudge`, with a task each
  ingest(R"({"type":"track","userId":"ann","event":"Upgraded"})");
  run();  // ann waits in `upsell`
  ASSERT_EQ(std::move(journey_store_->open_tasks(std::string("sara"), 10)).value().size(), 2u);

  std::promise<Status> erased;
  runner_->erase("ann", [&](Status s) { erased.set_value(s); });
  run();
  ASSERT_TRUE(erased.get_future().get().is_ok());
  // Her finished journey's outbox rows and task go too, not only the running one's; Bob's stay.
  std::vector<std::string> bobs = {"bob nudge hello enter", "bob nudge hello send hello", "bob nudge later send later",
                                   "bob nudge call task call", "bob nudge call exit"};
  EXPECT_EQ(outbox(), bobs);
  auto tasks = std::move(journey_store_->open_tasks(std::string("sara"), 10)).value();
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_EQ(tasks[0].user_id, "bob");
  clock_.advance(2h);
  restart();
  run();
  EXPECT_EQ(outbox(), bobs);  // the pending timer went with her
}

// An erasure while no runner runs (serve without --journeys, or a crash before the runner took
// it in) still reaches journeys.db: the next start forgets the person, once.
TEST_F(RunnerTest, ErasureWhileNoRunnerRanIsDoneAtTheNextStart) {
  write_journey("nudge.yaml", with_template(kDelayJourney, "later"));
  restart();
  for (const char* user : {"ann", "bob"}) {
    ingest(fmt::format(R"({{"type":"identify","userId":"{0}","traits":{{"email":"{0}@example.com","owner":"sara"}}}})", user));
    ingest(fmt::format(R"({{"type":"track","userId":"{}","event":"Signed Up"}})", user));
  }
  run();  // both wait in `later`
  runner_.reset();
  std::promise<Status> erased;
  writer_->erase("ann", [&](const profiles::WriteOutcome& o) { erased.set_value(o.status); });
  ASSERT_TRUE(erased.get_future().get().is_ok());
  EXPECT_EQ(count("people"), 2);

  restart();
  run();  // also checks the waiting counter: ann's instance left it
  EXPECT_EQ(rows("SELECT user_id, count(*) FROM people GROUP BY user_id"), (std::map<std::string, std::int64_t>{{"bob", 1}}));
  EXPECT_EQ(rows("SELECT user_id, count(*) FROM effects GROUP BY user_id"), (std::map<std::string, std::int64_t>{{"bob", 2}}));
  EXPECT_EQ(rows("SELECT name, value FROM meta WHERE name = 'erasures_checked'"), (std::map<std::string, std::int64_t>{{"erasures_checked", 1}}));
  clock_.advance(2h);
  run();
  EXPECT_EQ(outbox(), (std::vector<std::string>{"bob nudge hello enter", "bob nudge hello send hello",
                                                "bob nudge later send later", "bob nudge call task call",
                                                "bob nudge call exit"}));
}

// Every way an instance moves or ends (wait_for answered or timed out, exit step, goal in a
// wait, erasure, the last step) keeps the `waiting` counter equal to the instances (run() checks).
TEST_F(RunnerTest, SeedJourneysKeepTheWaitingCounterExact) {
  fs::copy("examples/journeys", dir_ / "journeys", fs::copy_options::recursive | fs::copy_options::overwrite_existing);
  restart();
  for (const char* user : {"ann", "bob", "cid", "dag", "eva"}) {
    ingest(fmt::format(R"({{"type":"identify","userId":"{0}","traits":{{"email":"{0}@example.com","phone":"+46700000000","owner":"sara"}}}})", user));
    ingest(fmt::format(R"({{"type":"track","userId":"{}","event":"Form Submitted","properties":{{"form":"guide"}}}})", user));
  }
  ingest(R"({"type":"track","userId":"cid","event":"Contract Signed"})");
  ingest(R"({"type":"track","userId":"dag","event":"Subscription Cancelled"})");
  ingest(R"({"type":"track","userId":"eva","event":"Subscription Cancelled"})");
  run();
  ingest(R"({"type":"track","userId":"ann","event":"Email Opened","properties":{"journey":"conversion-from-web","step":"confirmation","form":"guide"}})");
  ingest(R"({"type":"track","userId":"bob","event":"Meeting Booked"})");     // the goal, in a wait
  ingest(R"({"type":"track","userId":"dag","event":"Subscription Started"})");  // win-back's goal
  run();
  std::promise<Status> erased;
  runner_->erase("eva", [&](Status s) { erased.set_value(s); });
  run();
  ASSERT_TRUE(erased.get_future().get().is_ok());
  for (int day = 0; day < 32; ++day) {  // timeouts, the reminder, the call task, onboarding's days
    clock_.advance(24h);
    run();
  }
  auto counts = std::move(journey_store_->step_counts("conversion-from-web")).value();
  std::int64_t waiting = 0;
  for (const auto& c : counts) waiting += c.metric == "waiting" ? c.count : 0;
  EXPECT_EQ(waiting, 0);  // all ended
  EXPECT_EQ(std::move(journey_store_->open_tasks(std::string("sara"), 10)).value().size(), 2u);  // ann: call-lead; cid: onboarding-call

  // Ended instances' rows stay until purged, and are not loaded again.
  EXPECT_EQ(count("instances"), 6);  // eva's went with her
  restart();
  run();
  EXPECT_EQ(metrics_.gauge("touchpoint_journey_active_instances", "").value(), 0);
  ASSERT_TRUE(runner_->purge_finished().is_ok());
  EXPECT_EQ(count("instances"), 0);
  EXPECT_EQ(count("finished_instances"), 0);
}

// One journey whose steps all run at entry, one whose instances wait an hour.
constexpr const char* kHello = R"(id: hello
name: Hello
send_type: transactional
entry: {event: Signed Up, reentry: always}
steps:
  - id: hello
    send: {channel: email, template: hello}
)";
constexpr const char* kLater = R"(id: later
name: Later
send_type: transactional
entry: {event: Signed Up, reentry: always}
steps:
  - id: wait
    delay: 1h
  - id: later
    send: {channel: email, template: later}
)";

TEST_F(RunnerTest, TheRunningThreadPurgesEndedInstancesWhenIdle) {
  write_journey("later.yaml", kLater);
  restart();
  runner_->start();
  for (int i = 0; i < 3; ++i) ingest(R"({"type":"track","userId":"ann","event":"Signed Up"})");
  runner_->notify();
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (count("instances") < 3 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(50ms);
  ASSERT_EQ(count("instances"), 3);  // waiting an hour
  clock_.advance(2h);
  runner_->notify();
  // The instances end; their rows go once the thread wakes with nothing new (<= 1 s).
  deadline = std::chrono::steady_clock::now() + 10s;
  while ((outbox().size() < 9 || count("instances") > 0 || count("finished_instances") > 0) &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(50ms);
  EXPECT_EQ(outbox().size(), 9u);  // enter, send, exit each
  EXPECT_EQ(count("instances"), 0);
  EXPECT_EQ(count("finished_instances"), 0);
}

// An instance that starts and ends in one batch never had a row: nothing to list for deletion.
// One that waited is listed when it ends, and its row goes with the purge.
TEST_F(RunnerTest, AnInstanceThatEndsInTheBatchItStartedInWritesNoRow) {
  write_journey("hello.yaml", kHello);
  write_journey("later.yaml", kLater);
  restart();
  for (int i = 0; i < 3; ++i) ingest(R"({"type":"track","userId":"ann","event":"Signed Up"})");
  run();
  EXPECT_EQ(rows("SELECT journey, count(*) FROM instances GROUP BY journey"),
            (std::map<std::string, std::int64_t>{{"later", 3}}));
  EXPECT_EQ(count("finished_instances"), 0);
  clock_.advance(2h);
  run();
  EXPECT_EQ(count("finished_instances"), 3);
  ASSERT_TRUE(runner_->purge_finished().is_ok());
  EXPECT_EQ(count("instances"), 0);
  EXPECT_EQ(count("finished_instances"), 0);
}

TEST_F(RunnerTest, DateTriggerEntersAtTheLocalTimeBeforeTheDate) {
  write_journey("renewal.yaml", R"(id: renewal
name: Renewal
send_type: transactional
entry: {date: {trait: renewal_date, offset: -30d, at: "09:00"}}
steps:
  - id: remind
    send: {channel: email, template: remind}
)");
  write_journey("policies.yaml", "timezone: Europe/Stockholm\n");
  restart();
  // Renewal on 15 April: enter on 16 March at 09:00 Stockholm time (08:00 UTC).
  ingest(R"({"type":"identify","userId":"ann","traits":{"email":"ann@example.com","renewal_date":"2026-04-15"}})");
  run();
  EXPECT_TRUE(outbox().empty());
  clock_.set(*parse_iso8601("2026-03-16T07:59:00Z"));
  restart();  // the planned date survives a restart
  run();
  EXPECT_TRUE(outbox().empty());
  clock_.set(*parse_iso8601("2026-03-16T08:00:00Z"));
  run();
  EXPECT_EQ(outbox(), (std::vector<std::string>{"ann renewal remind enter", "ann renewal remind send remind",
                                                "ann renewal remind exit"}));
}

}  // namespace
}  // namespace tp::journeys
