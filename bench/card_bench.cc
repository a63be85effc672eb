// card_bench: how fast the customer card of a heavy profile (100,000 events) is read, first
// page and a page deep in the timeline, through profiles::render_card and over HTTP, next to the
// plain SQL query on the same SQLite file. See bench/README.md.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <vector>

#include "base/log.h"
#include "events.h"
#include "http_load.h"
#include "ingest/parser.h"
#include "profiles/card.h"
#include "raw_sqlite.h"
#include "server_fixture.h"
#include "support.h"

namespace tp::bench {
namespace {

struct Options {
  int events = 100000;        // on the measured profile
  int other_users = 1000;     // other profiles sharing the tables
  int other_events = 100000;  // their events, interleaved with the measured profile's
  int reads = 2000;
  int repeat = 3;
  int limit = 50;
  int deep_offset = 90000;  // the deep page starts after this many newer events
  bool quick = false;
};

constexpr int kCardUser = 0;  // user-0000000; the other users are 1..other_users
constexpr int kChunk = 2000;  // events per submit, as a large import would send them

// --- Loading ---------------------------------------------------------------------------------

// The measured person's history: an identify, then track events five minutes apart, ending now.
std::vector<EventSpec> card_history(int events, Timestamp now) {
  std::vector<EventSpec> out;
  Timestamp first = now - std::chrono::minutes(5) * events;
  out.push_back({EventSpec::Kind::kIdentify, kCardUser, first});
  for (int i = 1; i < events; ++i) out.push_back({EventSpec::Kind::kTrack, kCardUser, first + std::chrono::minutes(5) * i});
  return out;
}

Status submit(profiles::ProfileWriter& writer, EventFactory& factory, std::span<const EventSpec> events,
              Timestamp now) {
  ingest::Limits limits;
  limits.max_batch_bytes = 64 << 20;  // chunks are larger than an HTTP batch may be
  TP_ASSIGN(ingest::Parsed parsed, ingest::parse_batch(factory.batch_body(events, now), now, limits));
  auto outcome = writer.submit_and_wait(std::move(parsed.messages));
  TP_TRY(outcome.status);
  if (outcome.stored != static_cast<int>(events.size()))
    return internal_error(fmt::format("stored {} of {} events", outcome.stored, events.size()));
  return Status::ok();
}

// Writes the measured profile's events and the other users', chunk by chunk, interleaved.
Status load(BenchServer& server, const Options& o) {
  SystemClock clock;
  Timestamp now = clock.now();
  EventFactory card_factory("card", 1), other_factory("others", o.other_users);
  auto history = card_history(o.events, now);
  std::vector<EventSpec> others;
  size_t done = 0;
  int other_done = 0;
  while (done < history.size() || other_done < o.other_events) {
    size_t n = std::min<size_t>(kChunk, history.size() - done);
    if (n > 0) TP_TRY(submit(server.writer(), card_factory, std::span(history).subspan(done, n), now));
    done += n;
    others.clear();
    for (; other_done < o.other_events && others.size() < kChunk; ++other_done)
      others.push_back({EventSpec::Kind::kTrack, 1 + other_factory.random_user(),
                        now - std::chrono::minutes(5) * (other_done % o.events)});
    if (!others.empty()) TP_TRY(submit(server.writer(), other_factory, others, now));
  }
  return Status::ok();
}

// --- Measuring -------------------------------------------------------------------------------

struct ReadResult {
  std::string name;
  std::vector<Percentiles> runs;
  size_t bytes = 0;  // of one answer
};

// Times `read` (which returns the answer's size, or an error) `reads` times after a warm-up.
Result<ReadResult> measure(const Options& o, std::string name, const std::function<Result<size_t>()>& read) {
  ReadResult result{std::move(name), {}, 0};
  for (int i = 0; i < std::min(100, o.reads); ++i) TP_TRY(read());  // warm caches and prepared statements
  for (int r = 0; r < o.repeat && !interrupted(); ++r) {
    std::vector<double> latencies;
    latencies.reserve(static_cast<size_t>(o.reads));
    for (int i = 0; i < o.reads; ++i) {
      auto started = SteadyClock::now();
      TP_ASSIGN(result.bytes, read());
      latencies.push_back(std::chrono::duration<double, std::micro>(SteadyClock::now() - started).count());
    }
    result.runs.push_back(percentiles(std::move(latencies)));
    const Percentiles& p = result.runs.back();
    std::cerr << fmt::format("  [{} run {}/{}] p50 {:.3f} ms, p99 {:.3f} ms\n", result.name, r + 1, o.repeat, p.p50_ms,
                             p.p99_ms);
  }
  return result;
}

// The card through the profiles API, as the HTTP handler renders it.
std::function<Result<size_t>()> card_read(storage::Reader& reader, const Options& o,
                                          std::optional<storage::TimelineCursor> before) {
  return [&reader, &o, before]() -> Result<size_t> {
    TP_ASSIGN(std::string card, profiles::render_card(reader, EventFactory::user_id(kCardUser), {o.limit, before}));
    return card.size();
  };
}

std::function<Result<size_t>()> http_read(HttpClient& client, std::string target, std::string authorization) {
  return [&client, target = std::move(target), authorization = std::move(authorization)]() -> Result<size_t> {
    TP_ASSIGN(auto response, client.get(target, authorization));
    if (response.result_int() != 200)
      return internal_error(fmt::format("GET {}: HTTP {}: {}", target, response.result_int(), response.body()));
    return response.body().size();
  };
}

// The baseline: one indexed query, the bodies copied out as a JSON array, nothing else.
struct PlainQuery {
  StatementPtr statement;
  std::int64_t profile = 0;
  std::optional<storage::TimelineCursor> before;

  Result<size_t> operator()() const {
    sqlite3_stmt* q = statement.get();
    sqlite3_bind_int64(q, 1, profile);
    if (before) {
      sqlite3_bind_int64(q, 2, before->timestamp.time_since_epoch().count());
      sqlite3_bind_int64(q, 3, before->seq);
    }
    std::string out = "[";
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
      if (out.size() > 1) out.push_back(',');
      out.append(reinterpret_cast<const char*>(sqlite3_column_text(q, 0)),
                 static_cast<size_t>(sqlite3_column_bytes(q, 0)));
    }
    sqlite3_reset(q);
    if (rc != SQLITE_DONE) return internal_error(fmt::format("plain query failed (SQLite code {})", rc));
    out.push_back(']');
    return out.size();
  }
};

Result<PlainQuery> plain_query(RawSqlite& db, std::int64_t profile, std::optional<storage::TimelineCursor> before,
                               int limit) {
  // The store's timeline table (docs/storage.md, "Timeline") joined to the events.
  std::string sql = fmt::format("SELECT e.body FROM timeline t JOIN events e ON e.seq = t.seq WHERE t.profile_id=? {} "
                                "ORDER BY t.ts DESC, t.seq DESC LIMIT {}",
                                before ? "AND (t.ts, t.seq) < (?, ?)" : "", limit);
  TP_ASSIGN(StatementPtr statement, db.prepare(sql));
  return PlainQuery{std::move(statement), profile, before};
}

// --- Report ----------------------------------------------------------------------------------

void print_table(const std::vector<ReadResult>& results) {
  std::cout << fmt::format("{:<58} {:>9} {:>9} {:>9} {:>9} {:>9}\n", "read (median of runs)", "p50 ms", "p99 ms",
                           "mean ms", "max ms", "bytes");
  for (const auto& r : results) {
    Percentiles p = median_percentiles(r.runs);
    std::cout << fmt::format("{:<58} {:>9.3f} {:>9.3f} {:>9.3f} {:>9.3f} {:>9}\n", r.name, p.p50_ms, p.p99_ms,
                             p.mean_ms, p.max_ms, r.bytes);
  }
}

nlohmann::json result_json(const ReadResult& r) {
  Percentiles p = median_percentiles(r.runs);
  return {{"name", r.name}, {"p50_ms", p.p50_ms}, {"p99_ms", p.p99_ms}, {"bytes", r.bytes}};
}

struct Setup {
  TempDir dir{"tp-bench-card"};
  std::unique_ptr<BenchServer> server;
  std::unique_ptr<storage::Reader> reader;
  std::unique_ptr<RawSqlite> raw;
  std::unique_ptr<HttpClient> client;
  std::string authorization;
  std::int64_t profile = 0;
  storage::TimelineCursor deep{};
};

Status prepare(const Options& o, Setup& s) {
  TP_ASSIGN(s.server, BenchServer::start(s.dir.path(), 2));
  auto started = SteadyClock::now();
  std::cerr << fmt::format("loading {} events on one profile and {} on {} others\n", o.events, o.other_events,
                           o.other_users);
  TP_TRY(load(*s.server, o));
  std::cerr << fmt::format("  loaded in {:.1f} s\n", seconds_since(started));
  TP_ASSIGN(std::string admin, s.server->create_key(storage::KeyKind::kAdmin));
  s.authorization = "Bearer " + admin;
  TP_ASSIGN(s.reader, s.server->store().open_reader());
  TP_ASSIGN(auto id, s.reader->find_identity(storage::IdentityKind::kUser, EventFactory::user_id(kCardUser)));
  if (!id) return internal_error("the loaded profile is missing");
  s.profile = *id;
  // The deep page starts where paging with nextCursor would arrive after deep_offset events.
  TP_ASSIGN(auto newer, s.reader->timeline(s.profile, std::nullopt, o.deep_offset));
  if (newer.size() != static_cast<size_t>(o.deep_offset)) return internal_error("the timeline is shorter than expected");
  s.deep = {newer.back().timestamp, newer.back().seq};
  TP_ASSIGN(s.raw, RawSqlite::open(s.dir.path() + "/touchpoint.db", true));
  TP_TRY(s.raw->exec("PRAGMA mmap_size=268435456"));  // as the store's readers
  TP_ASSIGN(s.client, HttpClient::connect(s.server->endpoint()));
  return Status::ok();
}

Result<std::vector<ReadResult>> measure_all(const Options& o, Setup& s) {
  std::string path = "/api/v1/profiles/" + EventFactory::user_id(kCardUser);
  std::string cursor = fmt::format("{}.{}", s.deep.timestamp.time_since_epoch().count(), s.deep.seq);
  std::string deep_name = fmt::format("after {} events", o.deep_offset);
  TP_ASSIGN(PlainQuery plain_first, plain_query(*s.raw, s.profile, std::nullopt, o.limit));
  TP_ASSIGN(PlainQuery plain_deep, plain_query(*s.raw, s.profile, s.deep, o.limit));

  std::vector<std::pair<std::string, std::function<Result<size_t>()>>> reads = {
      {fmt::format("render_card, first page (limit {})", o.limit), card_read(*s.reader, o, std::nullopt)},
      {"render_card, page " + deep_name, card_read(*s.reader, o, s.deep)},
      {"HTTP GET /api/v1/profiles/{userId}, first page", http_read(*s.client, path, s.authorization)},
      {"HTTP GET ...?before=cursor, page " + deep_name, http_read(*s.client, path + "?before=" + cursor, s.authorization)},
      {"plain SQL, first page", std::cref(plain_first)},
      {"plain SQL, page " + deep_name, std::cref(plain_deep)},
  };
  std::vector<ReadResult> results;
  for (auto& [name, read] : reads) {
    TP_ASSIGN(ReadResult r, measure(o, name, read));
    results.push_back(std::move(r));
  }
  return results;
}

int run(const Options& o) {
  install_interrupt_handler();
  log::set_min_level(log::Level::kWarn);
  std::cout << fmt::format("card_bench: one profile with {} events (+{} events of {} other profiles); {} reads per "
                           "run, median of {} run(s); page size {}; load average {}\n\n",
                           o.events, o.other_events, o.other_users, o.reads, o.repeat, o.limit, load_average());
  Setup setup;
  Status s = prepare(o, setup);
  auto results = s.is_ok() ? measure_all(o, setup) : Result<std::vector<ReadResult>>(s);
  if (!results.is_ok()) {
    std::cerr << "card_bench: " << results.status().message() << "\n";
    return 1;
  }
  print_table(*results);
  const auto& r = *results;
  Percentiles card_first = median_percentiles(r[0].runs), plain_first = median_percentiles(r[4].runs);
  Percentiles card_deep = median_percentiles(r[1].runs), plain_deep = median_percentiles(r[5].runs);
  std::cout << fmt::format("\nrender_card / plain SQL (p50): first page {:.1f}x, deep page {:.1f}x\n",
                           card_first.p50_ms / plain_first.p50_ms, card_deep.p50_ms / plain_deep.p50_ms);
  Percentiles http_first = median_percentiles(r[2].runs);
  std::cout << fmt::format("target p99 < 5 ms for the first page: render_card {:.3f} ms, HTTP {:.3f} ms  {}\n",
                           card_first.p99_ms, http_first.p99_ms,
                           card_first.p99_ms < 5 && http_first.p99_ms < 5 ? "met" : "NOT met");

  nlohmann::json summary = {{"bench", "card"}, {"events", o.events}, {"reads", o.reads}, {"repeat", o.repeat}};
  for (const auto& result : r) summary["reads_measured"].push_back(result_json(result));
  std::cout << "\n" << summary.dump() << std::endl;
  return interrupted() ? 1 : 0;
}

}  // namespace
}  // namespace tp::bench

int main(int argc, char** argv) {
  tp::bench::Options o;
  CLI::App app{"Customer card read latency on a profile with a long timeline, with the plain SQL query as baseline"};
  app.add_option("--events", o.events, "Events on the measured profile")->capture_default_str();
  app.add_option("--other-users", o.other_users, "Other profiles")->capture_default_str();
  app.add_option("--other-events", o.other_events, "Events of the other profiles")->capture_default_str();
  app.add_option("--reads", o.reads, "Timed reads per run")->capture_default_str();
  app.add_option("--repeat", o.repeat, "Runs; the table shows medians")->capture_default_str();
  app.add_option("--limit", o.limit, "Timeline entries per page")->capture_default_str();
  app.add_option("--deep-offset", o.deep_offset, "Newer events before the deep page")->capture_default_str();
  app.add_flag("--quick", o.quick, "A small smoke-test run: 10,000 events, 200 reads, 1 run");
  CLI11_PARSE(app, argc, argv);
  if (o.quick) {
    o.events = 10000;
    o.other_events = 10000;
    o.other_users = 100;
    o.reads = 200;
    o.repeat = 1;
    o.deep_offset = 9000;
  }
  if (o.events < 2 || o.other_users < 1 || o.other_events < 0 || o.reads < 1 || o.repeat < 1 || o.limit < 1 ||
      o.limit > 1000 || o.deep_offset < 1 || o.deep_offset >= o.events) {
    std::cerr << "card_bench: need --events >= 2, 0 < --deep-offset < --events, 1 <= --limit <= 1000, and positive "
                 "--reads, --repeat, --other-users\n";
    return 2;
  }
  return tp::bench::run(o);
}
