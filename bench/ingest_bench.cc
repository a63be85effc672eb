// ingest_bench: end-to-end ingestion throughput and acknowledgement latency of the real server,
// side by side with what the storage underneath can do on its own (raw SQLite) and with
// PostgreSQL 15. See bench/README.md for what each phase measures and how to read it.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <iostream>
#include <nlohmann/json.hpp>
#include <future>
#include <optional>
#include <thread>

#include "base/log.h"
#include "http/responses.h"
#include "http/server.h"
#include "http_load.h"
#include "postgres_baseline.h"
#include "rows.h"
#include "server_fixture.h"
#include "sqlite_baseline.h"
#include "support.h"

namespace tp::bench {
namespace {

struct Options {
  double seconds = 10;
  double warmup = 1;
  int repeat = 3;
  int connections = 64;
  int client_threads = 1;
  unsigned server_threads = 2;
  int users = 10000;
  int batch_size = 100;
  int large_group = 2000;
  int pg_connections = 8;
  bool direct = false;
  std::string pg_bin = "/usr/lib/postgresql/15/bin";
  bool quick = false;
  bool skip_postgres = false;
  std::vector<std::string> only;  // phases to run; empty: all
  IdStyle ids = IdStyle::kUuid;

  bool wants(std::string_view phase) const {
    return only.empty() || std::find(only.begin(), only.end(), phase) != only.end();
  }
};

// One run of one phase.
struct Measurement {
  double events_per_s = 0;
  double requests_per_s = 0;   // requests (Touchpoint) or commits (baselines) per second
  Percentiles latency;         // per request (Touchpoint) or per commit (baselines)
  double events_per_commit = 0;
  double disk_bytes_per_event = 0;  // written to the data directory's disk during the run; 0: not known
  double writer_busy = 0;  // Touchpoint: share of the time until all was applied the writer spent in group commits
  double applied_per_s = 0;  // Touchpoint: events applied to the profiles per second, load + catching up
  std::string log_appends;   // Touchpoint with the intake log: how long its appends took
  long long errors = 0;
  std::string first_error;
};

// A phase: its runs and their medians.
struct Phase {
  std::string name;
  std::vector<Measurement> runs;

  double median_of(double Measurement::*field) const {
    std::vector<double> v;
    for (const auto& r : runs) v.push_back(r.*field);
    return median(std::move(v));
  }
  Percentiles latency() const {
    std::vector<Percentiles> v;
    for (const auto& r : runs) v.push_back(r.latency);
    return median_percentiles(v);
  }
  double events_per_s() const { return median_of(&Measurement::events_per_s); }
  double requests_per_s() const { return median_of(&Measurement::requests_per_s); }
  long long errors() const {
    long long n = 0;
    for (const auto& r : runs) n += r.errors;
    return n;
  }
};

std::string grouped(double v) {
  auto s = fmt::format("{:.0f}", v);
  for (int i = static_cast<int>(s.size()) - 3; i > 0 && s[static_cast<size_t>(i) - 1] != '-'; i -= 3)
    s.insert(static_cast<size_t>(i), ",");
  return s;
}

void report_run(const std::string& phase, int run, int runs, const Measurement& m) {
  std::cerr << fmt::format("  [{} run {}/{}] {} events/s, {} req/s, p50 {:.2f} ms, p99 {:.2f} ms{}\n", phase,
                           run + 1, runs, grouped(m.events_per_s), grouped(m.requests_per_s), m.latency.p50_ms,
                           m.latency.p99_ms,
                           m.errors ? fmt::format(", {} errors (first: {})", m.errors, m.first_error) : "");
  if (!m.log_appends.empty()) std::cerr << "    " << m.log_appends << "\n";
}

// The intake log's appends (write + fdatasync) from the server's histogram: a slow ack is
// either a slow disk (these) or time spent elsewhere.
std::string log_append_summary(std::string_view metrics) {
  constexpr std::string_view kName = "touchpoint_intake_append_seconds";
  double count = metric_value(metrics, fmt::format("{}_count", kName));
  if (count == 0) return "";
  auto over = [&](std::string_view le) {
    return count - metric_value(metrics, fmt::format("{}_bucket{{le=\"{}\"}}", kName, le));
  };
  return fmt::format("intake log: {:.0f} appends, mean {:.2f} ms; over 5 ms: {:.0f}, over 25 ms: {:.0f}, over 100 ms: {:.0f}",
                     count, 1000 * metric_value(metrics, fmt::format("{}_sum", kName)) / count, over("0.005"),
                     over("0.025"), over("0.1"));
}

// --- Touchpoint, end to end ------------------------------------------------------------------

LoadSpec load_spec(const Options& o, const boost::asio::ip::tcp::endpoint& endpoint, std::string key, bool batch,
                   double paced_rate, std::string id_prefix) {
  LoadSpec spec;
  spec.endpoint = endpoint;
  spec.write_key = std::move(key);
  spec.batch = batch;
  spec.batch_size = o.batch_size;
  spec.users = o.users;
  spec.connections = o.connections;
  spec.client_threads = o.client_threads;
  spec.warmup_seconds = o.warmup;
  spec.seconds = o.seconds;
  spec.paced_requests_per_second = paced_rate;
  spec.id_prefix = std::move(id_prefix);
  spec.ids = o.ids;
  return spec;
}

// What the client saw.
Measurement from_load(const LoadResult& load) {
  Measurement m;
  m.events_per_s = load.events_per_second();
  m.requests_per_s = load.requests_per_second();
  m.latency = load.latency;
  m.errors = load.errors;
  m.first_error = load.first_error;
  if (load.requests == 0 && load.errors == 0) {
    m.errors = 1;
    m.first_error = "no request was answered";
  }
  return m;
}

// What the client saw, completed with what the server's metrics say about its group commits.
// `seconds`: from the first request until the store had applied everything, the span the
// server's commit-time sum covers.
Measurement measurement(const LoadResult& load, double seconds, std::string_view metrics, double bytes_written) {
  Measurement m = from_load(load);
  double commits = metric_value(metrics, "touchpoint_commit_seconds_count");
  double stored = metric_value(metrics, "touchpoint_events_stored_total");
  if (commits > 0) m.events_per_commit = stored / commits;
  if (stored > 0) m.disk_bytes_per_event = bytes_written / stored;
  m.writer_busy = metric_value(metrics, "touchpoint_commit_seconds_sum") / seconds;
  return m;
}

// A fresh data directory and server per run: every run starts from an empty database, as the
// baselines do, so that table size does not favour either side.
Result<Measurement> run_touchpoint(const Options& o, bool batch, double paced_rate, const std::string& id_prefix) {
  TempDir dir("tp-bench-ingest");
  auto written_before = device_write_bytes(dir.path());
  TP_ASSIGN(auto server, BenchServer::start(dir.path(), o.server_threads, !o.direct));
  TP_ASSIGN(std::string key, server->create_key(storage::KeyKind::kWrite));
  auto started = SteadyClock::now();
  LoadResult load = run_load(load_spec(o, server->endpoint(), std::move(key), batch, paced_rate, id_prefix));
  // Acknowledged means durable in the intake log; wait until the profiles have caught up too.
  std::promise<void> caught_up;
  server->writer().when_applied([&](const profiles::WriteOutcome&) { caught_up.set_value(); });
  caught_up.get_future().wait();
  double applied_seconds = seconds_since(started);
  std::string metrics = server->metrics().render();
  server.reset();  // stop before the directory goes
  Measurement m = measurement(load, applied_seconds, metrics, static_cast<double>(device_write_bytes(dir.path()) - written_before));
  m.applied_per_s = metric_value(metrics, "touchpoint_events_stored_total") / applied_seconds;
  m.log_appends = log_append_summary(metrics);
  return m;
}

Result<Phase> touchpoint_phase(const Options& o, std::string name, bool batch, double paced_rate) {
  Phase phase{std::move(name), {}};
  for (int r = 0; r < o.repeat && !interrupted(); ++r) {
    TP_ASSIGN(Measurement m, run_touchpoint(o, batch, paced_rate, fmt::format("{}{}r{}", batch ? "b" : "s",
                                                                               paced_rate > 0 ? "p" : "c", r)));
    report_run(phase.name, r, o.repeat, m);
    phase.runs.push_back(std::move(m));
  }
  return phase;
}

// --- The HTTP layer alone --------------------------------------------------------------------

// Answers every request as /v1/track does, without reading it: what Touchpoint's HTTP layer and
// the load generator cost on these shared cores, the ceiling of the single-event peak.
class AnswerAtOnce final : public http::Handler {
 public:
  void handle(http::Request&&, http::Respond respond) override {
    respond(http::json_response(http::beast_http::status::ok, R"({"success":true})"));
  }
};

Result<Measurement> run_http_floor(const Options& o) {
  boost::asio::io_context io(static_cast<int>(o.server_threads));
  AnswerAtOnce handler;
  MetricsRegistry metrics;
  auto loopback = boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0);
  TP_ASSIGN(auto server, http::HttpServer::create(io, loopback, handler, metrics));
  server->start();
  std::vector<std::thread> threads;
  for (unsigned i = 0; i < o.server_threads; ++i) threads.emplace_back([&io] { io.run(); });
  LoadSpec spec = load_spec(o, server->local_endpoint(), "floor", false, 0, "floor");
  LoadResult load = run_load(spec);
  server->stop_accepting();
  io.stop();
  for (auto& t : threads) t.join();
  return from_load(load);
}

Result<Phase> http_floor_phase(const Options& o) {
  Phase phase{"HTTP layer alone: /v1/track answered unread", {}};
  for (int r = 0; r < o.repeat && !interrupted(); ++r) {
    TP_ASSIGN(Measurement m, run_http_floor(o));
    report_run(phase.name, r, o.repeat, m);
    phase.runs.push_back(std::move(m));
  }
  return phase;
}

// --- Baselines -------------------------------------------------------------------------------

Measurement from_inserts(const InsertResult& r) {
  Measurement m;
  m.events_per_s = r.rows_per_second();
  m.requests_per_s = r.seconds > 0 ? static_cast<double>(r.commits) / r.seconds : 0;
  m.latency = percentiles(r.commit_latencies_us);
  m.events_per_commit = r.commits > 0 ? static_cast<double>(r.rows) / static_cast<double>(r.commits) : 0;
  if (r.bytes_written > 0 && r.total_rows > 0)
    m.disk_bytes_per_event = static_cast<double>(r.bytes_written) / static_cast<double>(r.total_rows);
  return m;
}

Result<Phase> sqlite_phase(const Options& o, const RowPool& pool, int rows_per_commit, std::string_view note = "") {
  Phase phase{fmt::format("raw SQLite, 1 thread, {} rows/commit{}", rows_per_commit, note), {}};
  for (int r = 0; r < o.repeat && !interrupted(); ++r) {
    TempDir dir("tp-bench-sqlite");
    TP_ASSIGN(InsertResult result, run_sqlite_baseline({dir.path(), rows_per_commit, o.warmup, o.seconds}, pool));
    Measurement m = from_inserts(result);
    report_run(phase.name, r, o.repeat, m);
    phase.runs.push_back(std::move(m));
  }
  return phase;
}

Result<Phase> postgres_phase(const Options& o, const RowPool& pool) {
  TP_ASSIGN(auto cluster, PostgresCluster::start(o.pg_bin));
  std::string version = cluster->server_version();
  version = version.substr(0, version.find(' '));  // "15.20 (Debian 15.20-0+deb12u1)" -> "15.20"
  Phase phase{fmt::format("PostgreSQL {}, {} conns x {} rows/INSERT", version, o.pg_connections, o.batch_size),
              {}};
  for (int r = 0; r < o.repeat && !interrupted(); ++r) {
    TP_ASSIGN(InsertResult result, run_postgres_baseline({cluster->conninfo(), o.pg_connections, o.batch_size,
                                                          o.warmup, o.seconds},
                                                         pool));
    Measurement m = from_inserts(result);
    report_run(phase.name, r, o.repeat, m);
    phase.runs.push_back(std::move(m));
  }
  return phase;
}

// --- Report ----------------------------------------------------------------------------------

void print_table(const std::vector<const Phase*>& phases) {
  std::cout << fmt::format("{:<56} {:>9} {:>8} {:>8} {:>8} {:>9} {:>9} {:>7} {:>9} {:>6}\n", "phase (median of runs)",
                           "events/s", "req|tx/s", "p50 ms", "p99 ms", "ev/commit", "disk B/ev", "writer", "applied/s",
                           "errors");
  for (const Phase* p : phases) {
    if (p->runs.empty()) continue;
    Percentiles l = p->latency();
    double disk = p->median_of(&Measurement::disk_bytes_per_event);
    double busy = p->median_of(&Measurement::writer_busy);
    double applied = p->median_of(&Measurement::applied_per_s);
    std::cout << fmt::format("{:<56} {:>9} {:>8} {:>8.2f} {:>8.2f} {:>9.0f} {:>9} {:>7} {:>9} {:>6}\n", p->name,
                             grouped(p->events_per_s()), grouped(p->requests_per_s()), l.p50_ms, l.p99_ms,
                             p->median_of(&Measurement::events_per_commit), disk > 0 ? grouped(disk) : "-",
                             busy > 0 ? fmt::format("{:.0f}%", 100 * busy) : "-", applied > 0 ? grouped(applied) : "-",
                             p->errors());
  }
  std::cout << "\nper run (events/s | p50 ms | p99 ms):\n";
  for (const Phase* p : phases) {
    std::string runs;
    for (const auto& r : p->runs)
      runs += fmt::format("   {} | {:.2f} | {:.2f}", grouped(r.events_per_s), r.latency.p50_ms, r.latency.p99_ms);
    std::cout << fmt::format("  {:<56}{}\n", p->name, runs);
  }
}

double ratio(double a, double b) { return b > 0 ? a / b : 0; }

std::string verdict(bool met) { return met ? "met" : "NOT met"; }

nlohmann::json phase_json(const Phase& p) {
  Percentiles l = p.latency();
  return {{"name", p.name},         {"events_per_s", p.events_per_s()}, {"requests_per_s", p.requests_per_s()},
          {"p50_ms", l.p50_ms},     {"p99_ms", l.p99_ms},              {"errors", p.errors()},
          {"runs", p.runs.size()},  {"events_per_commit", p.median_of(&Measurement::events_per_commit)},
          {"disk_bytes_per_event", p.median_of(&Measurement::disk_bytes_per_event)},
          {"writer_busy", p.median_of(&Measurement::writer_busy)},
          {"applied_per_s", p.median_of(&Measurement::applied_per_s)}};
}

// Every phase's result; a phase left out by --only stays empty.
struct Results {
  std::optional<Phase> batch, single, batch_half, single_half, http_single, sqlite_small, sqlite_large, sqlite_matched,
      postgres;

  std::vector<const Phase*> all() const {
    std::vector<const Phase*> out;
    for (const auto* p : {&batch, &single, &batch_half, &single_half, &http_single, &sqlite_small, &sqlite_large,
                          &sqlite_matched, &postgres})
      if (*p) out.push_back(&**p);
    return out;
  }
};

Status run_touchpoint_phases(const Options& o, Results& r) {
  bool half = o.wants("half");
  if (o.wants("batch") || half) {
    std::cerr << "Touchpoint /v1/batch, closed loop (peak)\n";
    TP_ASSIGN(r.batch, touchpoint_phase(o, fmt::format("Touchpoint /v1/batch ({}/req), closed loop", o.batch_size),
                                        true, 0));
  }
  if (o.wants("single") || half) {
    std::cerr << "Touchpoint /v1/track, closed loop (peak)\n";
    TP_ASSIGN(r.single, touchpoint_phase(o, "Touchpoint /v1/track, closed loop", false, 0));
  }
  if (!half) return Status::ok();
  // The peak is what the server sustains: acknowledgements, or the apply rate behind the intake
  // log when that is lower (acknowledging faster than applying only lasts until the log's
  // backlog bound; then acknowledgements wait for the applier).
  auto sustained = [&](const Phase& p) {
    double applied = p.median_of(&Measurement::applied_per_s);
    double events_per_request = p.events_per_s() / std::max(p.requests_per_s(), 1.0);
    return std::min(p.requests_per_s(), applied > 0 ? applied / events_per_request : p.requests_per_s());
  };
  std::cerr << "Touchpoint, paced at half of the sustained peak request rate\n";
  double batch_rate = sustained(*r.batch) / 2, single_rate = sustained(*r.single) / 2;
  TP_ASSIGN(r.batch_half, touchpoint_phase(o, fmt::format("Touchpoint /v1/batch paced {:.0f} req/s (50%)", batch_rate),
                                           true, batch_rate));
  TP_ASSIGN(r.single_half, touchpoint_phase(o, fmt::format("Touchpoint /v1/track paced {:.0f} req/s (50%)",
                                                           single_rate),
                                            false, single_rate));
  return Status::ok();
}

Status run_baselines(const Options& o, Results& r) {
  if (o.wants("http")) {
    std::cerr << "HTTP layer alone, closed loop\n";
    TP_ASSIGN(r.http_single, http_floor_phase(o));
  }
  bool postgres = o.wants("postgres") && !o.skip_postgres;
  if (!o.wants("sqlite") && !postgres) return Status::ok();
  std::cerr << "Baselines\n";
  TP_ASSIGN(RowPool pool, RowPool::generate(20000, o.users, o.ids));
  if (o.wants("sqlite")) {
    TP_ASSIGN(r.sqlite_small, sqlite_phase(o, pool, o.batch_size));
    TP_ASSIGN(r.sqlite_large, sqlite_phase(o, pool, o.large_group));
    // Commits as large as Touchpoint's group commits turned out to be: the like-for-like limit.
    int matched = r.batch ? static_cast<int>(r.batch->median_of(&Measurement::events_per_commit) + 0.5) : 0;
    if (matched > 0) {
      TP_ASSIGN(r.sqlite_matched, sqlite_phase(o, pool, matched, " (= Touchpoint's)"));
    }
  }
  if (postgres) {
    TP_ASSIGN(r.postgres, postgres_phase(o, pool));
  }
  return Status::ok();
}

// The raw SQLite figure compared with is the one whose commits are as large as Touchpoint's group
// commits were (they hold many requests), else the large-commit one; the small-commit figure is
// what one request per commit would allow.
const std::optional<Phase>& compared_sqlite(const Results& r) { return r.sqlite_matched ? r.sqlite_matched : r.sqlite_large; }

nlohmann::json print_ratios_and_targets(const Options& o, const Results& r) {
  nlohmann::json out = nlohmann::json::object();
  if (r.batch) {
    double tp = r.batch->events_per_s();
    std::cout << "\nratios (Touchpoint /v1/batch events/s divided by):\n";
    auto line = [&](const std::optional<Phase>& base, const std::string& note, const char* key) {
      if (!base) return;
      double v = ratio(tp, base->events_per_s());
      std::cout << fmt::format("  {:<56} {:.2f}{}\n", base->name + ":", v, note);
      out[key] = v;
    };
    line(r.sqlite_matched, "   <- compared: same commit size", "ratio_vs_sqlite_matched");
    line(r.sqlite_large, r.sqlite_matched ? "" : "   <- compared", "ratio_vs_sqlite_large");
    line(r.sqlite_small, "", "ratio_vs_sqlite_small");
    line(r.postgres, "", "ratio_vs_postgres");
  }
  if (r.single && r.http_single) {
    double v = ratio(r.single->requests_per_s(), r.http_single->requests_per_s());
    std::cout << fmt::format("\nsingle-event peak divided by the HTTP layer alone (same connections and client): {:.2f}\n", v);
    out["single_vs_http_layer"] = v;
  }
  std::cout << "\ntargets:\n";
  if (r.batch) {
    double tp = r.batch->events_per_s();
    std::cout << fmt::format("  >= 100,000 events/s in batches:             {} events/s  {}\n", grouped(tp),
                             verdict(tp >= 100000));
  }
  if (r.single)
    std::cout << fmt::format("  >= 20,000 single-event requests/s:          {} req/s  {}\n",
                             grouped(r.single->requests_per_s()), verdict(r.single->requests_per_s() >= 20000));
  if (r.batch_half && r.single_half) {
    Percentiles bh = r.batch_half->latency(), sh = r.single_half->latency();
    std::cout << fmt::format("  p99 ack < 10 ms at half of sustained peak:         batch {:.2f} ms, single {:.2f} ms  {}\n",
                             bh.p99_ms, sh.p99_ms, verdict(bh.p99_ms < 10 && sh.p99_ms < 10));
  }
  if (const auto& base = compared_sqlite(r); r.batch && base) {
    double v = ratio(r.batch->events_per_s(), base->events_per_s());
    std::cout << fmt::format("  within 2x of raw SQLite ({:.0f} rows/commit): ratio {:.2f}  {}\n",
                             base->median_of(&Measurement::events_per_commit), v, verdict(v >= 0.5));
  }
  return out;
}

int run(const Options& o) {
  install_interrupt_handler();
  log::set_min_level(log::Level::kWarn);
  std::cout << fmt::format(
      "ingest_bench: {} cores; server: {} HTTP threads + the writer thread; client: {} keep-alive connections on "
      "{} thread(s); {} events/batch, {} users, {} messageIds; {} s per phase after {} s warm-up; median of {} run(s); load "
      "average {}\n",
      std::thread::hardware_concurrency(), o.server_threads, o.connections, o.client_threads, o.batch_size, o.users,
      o.ids == IdStyle::kUuid ? "random UUID" : "sequential", o.seconds, o.warmup, o.repeat, load_average());
  Results r;
  Status s = run_touchpoint_phases(o, r);
  if (s.is_ok()) s = run_baselines(o, r);
  if (!s.is_ok()) {
    std::cerr << "ingest_bench: " << s.message() << "\n";
    return 1;
  }

  std::cout << fmt::format("\nload average at the end: {}\n", load_average());
  print_table(r.all());
  nlohmann::json summary = print_ratios_and_targets(o, r);
  summary["bench"] = "ingest";
  summary["seconds"] = o.seconds;
  summary["repeat"] = o.repeat;
  summary["connections"] = o.connections;
  summary["message_ids"] = o.ids == IdStyle::kUuid ? "uuid" : "sequential";
  const std::pair<const char*, const std::optional<Phase>*> keys[] = {
      {"batch", &r.batch},           {"single", &r.single},
      {"batch_half_peak", &r.batch_half}, {"single_half_peak", &r.single_half}, {"http_layer_single", &r.http_single},
      {"sqlite_small_commits", &r.sqlite_small}, {"sqlite_large_commits", &r.sqlite_large},
      {"sqlite_matched_commits", &r.sqlite_matched}, {"postgres", &r.postgres}};
  for (const auto& [key, phase] : keys)
    if (*phase) summary[key] = phase_json(**phase);
  std::cout << "\n" << summary.dump() << std::endl;

  bool errors = false;
  for (const Phase* p : r.all()) errors = errors || p->errors() != 0;
  return interrupted() || errors ? 1 : 0;
}

}  // namespace
}  // namespace tp::bench

int main(int argc, char** argv) {
  tp::bench::Options o;
  CLI::App app{"End-to-end ingestion benchmark of the Touchpoint server, with raw SQLite and PostgreSQL baselines"};
  app.add_option("--seconds", o.seconds, "Measured seconds per phase and run")->capture_default_str();
  app.add_option("--warmup", o.warmup, "Warm-up seconds before each measurement")->capture_default_str();
  app.add_option("--repeat", o.repeat, "Runs per phase; the table shows medians")->capture_default_str();
  app.add_option("--connections", o.connections, "Client connections")->capture_default_str();
  app.add_option("--client-threads", o.client_threads, "Threads driving the client connections")->capture_default_str();
  app.add_option("--server-threads", o.server_threads, "HTTP threads of the server")->capture_default_str();
  app.add_option("--users", o.users, "Distinct userIds")->capture_default_str();
  app.add_option("--batch-size", o.batch_size, "Events per /v1/batch request (and rows per baseline commit)")
      ->capture_default_str();
  app.add_option("--large-group", o.large_group, "Rows per commit of the large-commit SQLite baseline")
      ->capture_default_str();
  app.add_option("--pg-connections", o.pg_connections, "PostgreSQL connections")->capture_default_str();
  app.add_option("--pg-bin", o.pg_bin, "Directory of initdb, pg_ctl and postgres")->capture_default_str();
  std::string ids = "uuid";
  app.add_option("--message-ids", ids, "uuid: random, as SDKs send them; sequential: appended to the index")
      ->check(CLI::IsMember({"uuid", "sequential"}))
      ->capture_default_str();
  app.add_flag("--quick", o.quick, "A small smoke-test run: 1 s phases, 1 run, 16 connections");
  app.add_flag("--skip-postgres", o.skip_postgres, "Leave out the PostgreSQL baseline");
  app.add_flag("--direct", o.direct,
               "Touchpoint without the intake log: each request applied to the store before its 200 (the "
               "previous design), for comparison");
  app.add_option("--only", o.only, "Run only these phases (half also runs batch and single, for their peak)")
      ->check(CLI::IsMember({"batch", "single", "half", "http", "sqlite", "postgres"}))
      ->delimiter(',');
  CLI11_PARSE(app, argc, argv);
  o.ids = ids == "uuid" ? tp::bench::IdStyle::kUuid : tp::bench::IdStyle::kSequential;
  if (o.quick) {
    o.seconds = 1;
    o.warmup = 0.3;
    o.repeat = 1;
    o.connections = std::min(o.connections, 16);
    o.pg_connections = std::min(o.pg_connections, 4);
  }
  if (o.seconds <= 0 || o.repeat < 1 || o.connections < 1 || o.client_threads < 1 || o.server_threads < 1 ||
      o.users < 1 || o.batch_size < 1 || o.large_group < 1 || o.pg_connections < 1) {
    std::cerr << "ingest_bench: --seconds, --repeat, --connections, --*-threads, --users, --batch-size, "
                 "--large-group and --pg-connections must be positive\n";
    return 2;
  }
  return tp::bench::run(o);
}
