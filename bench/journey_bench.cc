// journey_bench: live-mode journeys, end to end on the real stores.
//
//  1. Live timers: N waiting instances (a `delay` step) come due at once; due steps per second
//     with durable state and outbox rows (the journey runner on journeys.db), side by side with
//     the job queues a user would otherwise pick for "send in 2 days": BullMQ on Redis and
//     pg-boss on PostgreSQL 15, each job writing the same outbox row (bench/queues/).
//  2. Event -> effect: track events at a fixed rate through the profile writer; the time from
//     handing an event to the writer until its effect's outbox row is committed.
// See bench/README.md.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>
#include <unordered_map>

#include "base/log.h"
#include "events.h"
#include "ingest/parser.h"
#include "journeys/runner.h"
#include "postgres_baseline.h"
#include "profiles/writer.h"
#include "storage/sqlite_journey_store.h"
#include "storage/sqlite_store.h"
#include "support.h"

#ifndef TP_SOURCE_DIR
#define TP_SOURCE_DIR "."
#endif

namespace tp::bench {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

struct Options {
  int timers = 1000000;
  int queue_jobs = 0;  // 0: as many as timers
  int concurrency = 64;
  double latency_seconds = 10;
  double rate = 5000;
  bool skip_queues = false;
  std::string only;  // timers | latency
  std::string pg_bin = "/usr/lib/postgresql/15/bin";
  std::string source_dir = TP_SOURCE_DIR;
  std::string appendfsync = "everysec";
  std::string message_ids = "uuid";  // latency run: uuid | sequential
};

constexpr const char* kTimerJourney = R"(id: timer-bench
name: Timer benchmark
send_type: transactional
entry: {event: Timer Started, reentry: always}
steps:
  - id: due
    delay: 1h
    webhook: {template: due}
)";

constexpr const char* kLatencyJourney = R"(id: latency-bench
name: Latency benchmark
send_type: transactional
entry: {event: Ping, reentry: always}
steps:
  - id: pong
    webhook: {template: pong}
)";

// Stores, profile writer and a runner over one data directory, as `serve --journeys` wires them.
struct Live {
  TempDir dir{"tp-journey-bench"};
  std::unique_ptr<storage::Store> store;
  std::unique_ptr<storage::JourneyStore> journeys;
  std::unique_ptr<storage::IntakeLog> intake;
  std::unique_ptr<profiles::ProfileWriter> writer;
  std::unique_ptr<journeys::Runner> runner;
  MetricsRegistry metrics;

  Status open(const Clock& clock, const char* journey) {
    fs::create_directories(dir.path() + "/journeys");
    std::ofstream(dir.path() + "/journeys/bench.yaml") << journey;
    TP_ASSIGN(store, storage::open_sqlite_store(dir.path()));
    TP_ASSIGN(journeys, storage::open_sqlite_journey_store(dir.path()));
    TP_ASSIGN(intake, storage::IntakeLog::open(dir.path() + "/intake"));
    TP_ASSIGN(writer, profiles::ProfileWriter::create(*store, clock, metrics, intake.get()));
    writer->start();
    return Status::ok();
  }
  Status start_runner(const Clock& clock, journeys::Runner::Options options) {
    runner.reset();
    std::vector<journeys::Problem> problems;
    TP_ASSIGN(auto ws, journeys::load_live_workspace(dir.path() + "/journeys", *journeys, clock.now(), problems));
    TP_ASSIGN(runner, journeys::Runner::create(std::move(ws), *store, *journeys, clock, metrics, nullptr, std::move(options)));
    return Status::ok();
  }
};

Status ingest(profiles::ProfileWriter& writer, const std::string& event, int from, int to, Timestamp now) {
  constexpr int kChunk = 5000;
  for (int start = from; start < to; start += kChunk) {
    std::vector<ingest::Message> batch;
    for (int i = start; i < std::min(to, start + kChunk); ++i) {
      auto m = ingest::parse_typed(
          fmt::format(R"({{"type":"track","userId":"u{}","event":"{}","messageId":"{}-{}"}})", i, event, event, i), now);
      TP_TRY(m.status());
      batch.push_back(std::move(m).value());
    }
    TP_TRY(writer.submit_and_wait(std::move(batch)).status);
  }
  return Status::ok();
}

// --- Live timers ------------------------------------------------------------------------------

struct TimerResult {
  double ingest_s = 0, enter_s = 0, restore_s = 0, due_s = 0, purge_s = 0;
  long long due_steps = 0;
  double db_bytes_per_instance = 0;
};

Result<TimerResult> touchpoint_timers(const Options& o) {
  TimerResult r;
  ManualClock clock(SystemClock().now());
  Live live;
  TP_TRY(live.open(clock, kTimerJourney));
  TP_TRY(live.start_runner(clock, {}));

  auto t0 = SteadyClock::now();
  TP_TRY(ingest(*live.writer, "Timer Started", 0, o.timers, clock.now()));
  r.ingest_s = seconds_since(t0);

  t0 = SteadyClock::now();
  TP_TRY(live.runner->run_once());  // N instances enter and wait for 1 h, durably
  r.enter_s = seconds_since(t0);
  r.db_bytes_per_instance = static_cast<double>(file_size_or_zero(live.dir.path() + "/journeys.db") +
                                                file_size_or_zero(live.dir.path() + "/journeys.db-wal")) / o.timers;

  t0 = SteadyClock::now();
  TP_TRY(live.start_runner(clock, {}));  // a restart: the waiting instances are read back
  r.restore_s = seconds_since(t0);

  clock.advance(std::chrono::hours(1) + std::chrono::seconds(1));
  t0 = SteadyClock::now();
  TP_TRY(live.runner->run_once());
  r.due_s = seconds_since(t0);
  // The ended instances' rows are deleted afterwards, when the runner is idle (as pg-boss's
  // maintenance deletes completed jobs later); timed on its own.
  t0 = SteadyClock::now();
  TP_TRY(live.runner->purge_finished());
  r.purge_s = seconds_since(t0);

  TP_ASSIGN(auto counts, live.journeys->step_counts("timer-bench"));
  for (const auto& c : counts)
    if (c.metric == "webhook") r.due_steps = c.count;
  if (r.due_steps != o.timers) return internal_error(fmt::format("{} of {} due steps happened", r.due_steps, o.timers));
  return r;
}

// A throwaway Redis with AOF (appendfsync as given), on a free loopback port.
class RedisServer {
 public:
  static Result<std::unique_ptr<RedisServer>> start(const std::string& appendfsync) {
    auto s = std::unique_ptr<RedisServer>(new RedisServer());
    s->port_ = 20000 + static_cast<int>(::getpid() % 20000);
    std::string cmd = fmt::format(
        "redis-server --port {} --bind 127.0.0.1 --dir {} --appendonly yes --appendfsync {} --save '' "
        "--daemonize yes --pidfile {}/redis.pid --logfile {}/redis.log --maxmemory-policy noeviction",
        s->port_, s->dir_.path(), appendfsync, s->dir_.path(), s->dir_.path());
    if (std::system(cmd.c_str()) != 0) return internal_error("cannot start redis-server (is it installed?)");
    for (int i = 0; i < 100; ++i) {
      if (std::system(fmt::format("redis-cli -p {} ping >/dev/null 2>&1", s->port_).c_str()) == 0) {
        s->running_ = true;
        return s;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return internal_error("redis-server did not answer");
  }
  ~RedisServer() {
    if (running_) (void)std::system(fmt::format("redis-cli -p {} shutdown nosave >/dev/null 2>&1", port_).c_str());
  }
  int port() const { return port_; }

 private:
  RedisServer() = default;
  TempDir dir_{"tp-bench-redis"};
  int port_ = 0;
  bool running_ = false;
};

// Runs a baseline script; returns its JSON result line.
Result<Json> run_node(const std::string& command) {
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (!p) return internal_error("cannot run node");
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  int rc = ::pclose(p);
  auto brace = out.rfind("\n{");
  std::string last = out.substr(brace == std::string::npos ? out.find('{') : brace + 1);
  Json j = Json::parse(last, nullptr, false);
  if (rc != 0 || j.is_discarded()) return internal_error(fmt::format("{} failed:\n{}", command, out));
  return j;
}

std::string pg_url(const std::string& conninfo) {
  std::smatch m;
  std::regex port(R"(port=(\d+))");
  std::regex_search(conninfo, m, port);
  return fmt::format("postgresql://bench@127.0.0.1:{}/postgres", m[1].str());
}

Status timers(const Options& o) {
  fmt::print("\n== Live timers: {} waiting instances come due at once ==\n", o.timers);
  TP_ASSIGN(TimerResult t, touchpoint_timers(o));
  double ours = static_cast<double>(t.due_steps) / t.due_s;
  fmt::print("touchpoint: ingest {:.1f} s, enter+persist {:.1f} s, restart (read back) {:.1f} s, "
             "journeys.db {:.0f} B/waiting instance\n",
             t.ingest_s, t.enter_s, t.restore_s, t.db_bytes_per_instance);
  fmt::print("{:<44} {:>10} {:>10} {:>12} {:>8}\n", "system (durability)", "jobs", "drain s", "due steps/s", "ratio");
  fmt::print("{:<44} {:>10} {:>10.2f} {:>12.0f} {:>8}\n", "touchpoint runner (SQLite WAL, synchronous=NORMAL)",
             t.due_steps, t.due_s, ours, "1.00");
  fmt::print("then deleting the ended instances' rows (when idle): {:.2f} s, {:.0f}/s; drain and delete: {:.0f}/s\n",
             t.purge_s, t.due_steps / t.purge_s, t.due_steps / (t.due_s + t.purge_s));
  if (o.skip_queues) return Status::ok();

  int jobs = o.queue_jobs > 0 ? o.queue_jobs : o.timers;
  std::string scripts = o.source_dir + "/bench/queues";
  if (!fs::exists(scripts + "/node_modules") &&
      std::system(fmt::format("cd {} && npm ci --no-audit --no-fund --loglevel=error", scripts).c_str()) != 0)
    return internal_error("npm ci in bench/queues failed");
  TP_ASSIGN(auto cluster, PostgresCluster::start(o.pg_bin));
  std::string pg = pg_url(cluster->conninfo());
  auto row = [&](const Json& j) {
    double rate = j.value("jobs_per_second", 0.0);
    fmt::print("{:<44} {:>10} {:>10.2f} {:>12.0f} {:>7.1f}x\n",
               fmt::format("{} {} ({})", j.value("system", "?"), j.value("version", "?"), j.value("durability", "?")),
               j.value("jobs", 0), j.value("drain_seconds", 0.0), rate, rate > 0 ? ours / rate : 0);
  };
  {
    TP_ASSIGN(auto redis, RedisServer::start(o.appendfsync));
    TP_ASSIGN(Json bull, run_node(fmt::format("node {}/bullmq.mjs --jobs {} --redis-port {} --pg '{}' --concurrency {}",
                                              scripts, jobs, redis->port(), pg, o.concurrency)));
    row(bull);
  }
  TP_ASSIGN(Json boss, run_node(fmt::format("node {}/pgboss.mjs --jobs {} --pg '{}' --concurrency {}", scripts, jobs, pg,
                                            o.concurrency)));
  row(boss);
  fmt::print("(ratio = touchpoint's due steps/s over the queue's jobs/s; each system writes its outbox rows durably)\n");
  return Status::ok();
}

// --- Event -> effect latency -----------------------------------------------------------------

Status latency(const Options& o) {
  fmt::print("\n== Event -> outbox row, {:.0f} track events/s for {:.0f} s, {} messageIds ==\n", o.rate, o.latency_seconds,
             o.message_ids);
  SystemClock clock;
  Live live;
  TP_TRY(live.open(clock, kLatencyJourney));
  int total = static_cast<int>(o.rate * o.latency_seconds);
  std::vector<SteadyClock::time_point> sent(total), acked(total), effect(total);
  std::mutex mu;
  journeys::Runner::Options options;
  options.committed = [&](const std::vector<journeys::Effect>& effects) {
    auto now = SteadyClock::now();
    for (const auto& e : effects)
      if (e.action == "webhook") effect[std::stoi(std::string(e.user_id.substr(1)))] = now;
  };
  TP_TRY(live.start_runner(clock, std::move(options)));
  live.writer->set_on_commit([r = live.runner.get()] { r->notify(); });
  live.runner->start();

  // Messages are built before the clock starts; one new person per event.
  std::vector<std::vector<ingest::Message>> messages(total);
  // messageIds as Segment's libraries send them (random UUIDs), or "ping-N" (--message-ids).
  std::string id;
  for (int i = 0; i < total; ++i) {
    id.clear();
    if (o.message_ids == "uuid")
      append_uuid_like(id, static_cast<std::uint64_t>(i), 0x7A11E9C5ull);
    else
      id = fmt::format("ping-{}", i);
    auto m = ingest::parse_typed(fmt::format(R"({{"type":"track","userId":"u{}","event":"Ping","messageId":"{}"}})", i, id),
                                 clock.now());
    TP_TRY(m.status());
    messages[i].push_back(std::move(m).value());
  }
  std::atomic<int> done{0};
  auto start = SteadyClock::now();
  auto interval = std::chrono::duration<double>(1.0 / o.rate);
  for (int i = 0; i < total && !interrupted(); ++i) {
    auto due = start + std::chrono::duration_cast<SteadyClock::duration>(interval * i);
    std::this_thread::sleep_until(due);
    sent[i] = due;  // from when it was due: a stalled sender cannot hide latency
    live.writer->submit_durable(std::move(messages[i]), [&, i](const profiles::WriteOutcome&) {
      acked[i] = SteadyClock::now();
      ++done;
    });
  }
  while (done < total) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  live.runner->stop();

  std::vector<double> to_effect, to_ack, ack_to_effect;
  int missing = 0;
  int warmup = static_cast<int>(o.rate);  // the first second
  for (int i = warmup; i < total; ++i) {
    if (effect[i] == SteadyClock::time_point{}) {
      ++missing;
      continue;
    }
    to_effect.push_back(std::chrono::duration<double, std::micro>(effect[i] - sent[i]).count());
    to_ack.push_back(std::chrono::duration<double, std::micro>(acked[i] - sent[i]).count());
    ack_to_effect.push_back(std::chrono::duration<double, std::micro>(effect[i] - acked[i]).count());
  }
  if (missing) return internal_error(fmt::format("{} events produced no effect", missing));
  auto print = [](const char* what, const Percentiles& p) {
    fmt::print("{:<40} p50 {:>7.2f} ms  p99 {:>7.2f} ms  max {:>7.2f} ms  (n={})\n", what, p.p50_ms, p.p99_ms, p.max_ms,
               p.count);
  };
  print("event -> durable (profile writer ack)", percentiles(to_ack));
  print("durable -> outbox row committed", percentiles(ack_to_effect));
  Percentiles total_p = percentiles(to_effect);
  print("event -> outbox row committed", total_p);
  fmt::print("target p99 < 5 ms: {} ({:.2f}x the target)\n", total_p.p99_ms < 5 ? "met" : "NOT met", total_p.p99_ms / 5);
  return Status::ok();
}

}  // namespace
}  // namespace tp::bench

int main(int argc, char** argv) {
  using namespace tp::bench;
  CLI::App app{"Live journeys: due timers vs BullMQ and pg-boss; event -> effect latency"};
  Options o;
  app.add_option("--timers", o.timers, "Waiting instances coming due together")->capture_default_str();
  app.add_option("--queue-jobs", o.queue_jobs, "Jobs for BullMQ/pg-boss (default: as many as --timers)");
  app.add_option("--concurrency", o.concurrency, "Worker concurrency of the queues")->capture_default_str();
  app.add_option("--appendfsync", o.appendfsync, "Redis AOF fsync policy (everysec | always)")->capture_default_str();
  app.add_option("--rate", o.rate, "Events per second in the latency run")->capture_default_str();
  app.add_option("--latency-seconds", o.latency_seconds, "Length of the latency run")->capture_default_str();
  app.add_option("--message-ids", o.message_ids, "messageIds of the latency run: uuid (as SDKs send them) | sequential")
      ->check(CLI::IsMember({"uuid", "sequential"}))
      ->capture_default_str();
  app.add_flag("--skip-queues", o.skip_queues, "Do not run BullMQ and pg-boss");
  app.add_option("--only", o.only, "timers | latency")->check(CLI::IsMember({"timers", "latency"}));
  app.add_option("--pg-bin", o.pg_bin, "Directory of initdb, pg_ctl and postgres")->capture_default_str();
  app.add_option("--source-dir", o.source_dir, "The repository (for bench/queues)")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  tp::log::set_min_level(tp::log::Level::kWarn);
  install_interrupt_handler();
  fmt::print("journey_bench: load average {}\n", load_average());
  tp::Status s = tp::Status::ok();
  if (o.only.empty() || o.only == "timers") s = timers(o);
  if (s.is_ok() && (o.only.empty() || o.only == "latency")) s = latency(o);
  if (!s.is_ok()) {
    std::cerr << "journey_bench: " << s.message() << "\n";
    return 1;
  }
  return 0;
}
