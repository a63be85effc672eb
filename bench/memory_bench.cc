// memory_bench: resident memory and bytes on disk per event after loading N profiles and M
// events through the ProfileWriter (the path every ingested message takes). See bench/README.md.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <filesystem>
#include <future>
#include <iostream>
#include <nlohmann/json.hpp>
#include <semaphore>

#include "base/log.h"
#include "events.h"
#include "ingest/parser.h"
#include "profiles/writer.h"
#include "raw_sqlite.h"
#include "storage/intake_log.h"
#include "storage/sqlite_store.h"
#include "support.h"

namespace tp::bench {
namespace {

struct Options {
  long long profiles = 1'000'000;
  long long events = 10'000'000;
  int chunk = 2000;  // messages per submit
  double progress_seconds = 10;
  bool quick = false;
  bool direct = false;  // without the intake log
};

constexpr int kMaxInFlight = 4;  // submitted chunks not yet committed: bounds the producer's memory

struct DiskUsage {
  std::uint64_t db = 0, wal = 0;
  std::uint64_t intake = 0;  // intake log segments (preallocated, so mostly zeros once applied)
  std::uint64_t total() const { return db + wal; }
};

DiskUsage disk_usage(const std::string& dir) {
  DiskUsage d{file_size_or_zero(dir + "/touchpoint.db"), file_size_or_zero(dir + "/touchpoint.db-wal")};
  std::error_code ec;
  for (const auto& f : std::filesystem::directory_iterator(dir + "/intake", ec)) d.intake += file_size_or_zero(f.path());
  return d;
}

double mib(double bytes) { return bytes / (1024.0 * 1024.0); }

// Feeds the writer chunk by chunk without waiting for each commit (at most kMaxInFlight
// outstanding), so that generating and parsing overlap with writing. With the intake log a chunk
// counts as done once it is in the log, as an HTTP request is answered; the store applies behind.
class Loader {
 public:
  Loader(profiles::ProfileWriter& writer, const MetricsRegistry& metrics, const Options& o, std::string dir)
      : writer_(writer), metrics_(metrics), o_(o), dir_(std::move(dir)), factory_("memory", static_cast<int>(o.profiles)) {}

  Status run() {
    limits_.max_batch_bytes = 64 << 20;  // chunks are larger than an HTTP batch may be
    auto started = SteadyClock::now(), last_report = started;
    for (long long next = 0; next < o_.events && !interrupted();) {
      long long n = std::min<long long>(o_.chunk, o_.events - next);
      TP_TRY(submit_chunk(next, n));
      next += n;
      if (seconds_since(last_report) >= o_.progress_seconds) {
        report(next, seconds_since(started));
        last_report = SteadyClock::now();
      }
    }
    for (int i = 0; i < kMaxInFlight; ++i) in_flight_.acquire();  // every commit is done
    if (!o_.direct) {
      std::promise<void> applied;
      writer_.when_applied([&](const profiles::WriteOutcome&) { applied.set_value(); });
      applied.get_future().wait();
    }
    if (failed_.load()) return internal_error("a write failed: " + first_error_);
    loaded_seconds_ = seconds_since(started);
    return Status::ok();
  }

  long long stored() const {
    if (o_.direct) return stored_.load();
    return static_cast<long long>(metric_value(metrics_.render(), "touchpoint_events_stored_total"));
  }
  double loaded_seconds() const { return loaded_seconds_; }

 private:
  // Event i: while i < profiles, the first message of person i (an identify with traits and
  // consent, which creates the profile); after that, track events of random people.
  Status submit_chunk(long long first, long long n) {
    Timestamp now = clock_.now();
    specs_.clear();
    for (long long i = first; i < first + n; ++i) {
      if (i < o_.profiles)
        specs_.push_back({EventSpec::Kind::kIdentify, static_cast<int>(i), now});
      else
        specs_.push_back({EventSpec::Kind::kTrack, factory_.random_user(), now});
    }
    TP_ASSIGN(ingest::Parsed parsed, ingest::parse_batch(factory_.batch_body(specs_, now), now, limits_));
    in_flight_.acquire();
    auto done = [this](const profiles::WriteOutcome& outcome) {
      if (!outcome.status.is_ok() && !failed_.exchange(true)) first_error_ = outcome.status.message();
      stored_ += outcome.stored;
      in_flight_.release();
    };
    if (o_.direct)
      writer_.submit(std::move(parsed.messages), done);
    else
      writer_.submit_durable(std::move(parsed.messages), done);
    return Status::ok();
  }

  void report(long long submitted, double seconds) const {
    MemoryUsage m = read_memory_usage();
    DiskUsage d = disk_usage(dir_);
    std::cerr << fmt::format("  {:>11} events stored ({:.0f}%), {:.0f} events/s, RSS {:.0f} MiB, db+wal {:.0f} MiB\n",
                             stored(), 100.0 * static_cast<double>(submitted) / static_cast<double>(o_.events),
                             static_cast<double>(stored()) / seconds, m.rss_kb / 1024.0, mib(d.total()));
  }

  profiles::ProfileWriter& writer_;
  const MetricsRegistry& metrics_;
  const Options& o_;
  std::string dir_;
  SystemClock clock_;
  EventFactory factory_;
  ingest::Limits limits_;
  std::vector<EventSpec> specs_;
  std::counting_semaphore<kMaxInFlight> in_flight_{kMaxInFlight};
  std::atomic<long long> stored_{0};
  std::atomic<bool> failed_{false};
  std::string first_error_;  // written once, by the writer thread, before failed_ is read
  double loaded_seconds_ = 0;
};

// Folds the WAL into the database and truncates it: the size a restarted server would find.
Result<DiskUsage> checkpointed_size(const std::string& dir) {
  {
    TP_ASSIGN(auto db, RawSqlite::open(dir + "/touchpoint.db", false));
    TP_TRY(db->exec("PRAGMA wal_checkpoint(TRUNCATE)"));
  }
  return disk_usage(dir);
}

void print_memory(const char* when, const MemoryUsage& m) {
  std::cout << fmt::format("  {:<34} RSS {:>8.1f} MiB  (anonymous {:>8.1f} MiB, file-backed {:>8.1f} MiB)\n", when,
                           m.rss_kb / 1024.0, m.anon_kb / 1024.0, m.file_kb / 1024.0);
}

int run(const Options& o) {
  install_interrupt_handler();
  log::set_min_level(log::Level::kWarn);
  std::cout << fmt::format("memory_bench: {} profiles, {} events through the ProfileWriter ({} per request, {})\n\n",
                           o.profiles, o.events, o.chunk,
                           o.direct ? "each applied before its answer" : "answered once in the intake log");
  auto fail = [](const Status& s) {
    std::cerr << "memory_bench: " << s.message() << "\n";
    return 1;
  };
  MemoryUsage at_start = read_memory_usage();
  TempDir dir("tp-bench-memory");
  auto store = storage::open_sqlite_store(dir.path());
  if (!store.is_ok()) return fail(store.status());
  SystemClock clock;
  MetricsRegistry metrics;
  std::unique_ptr<storage::IntakeLog> intake;
  if (!o.direct) {
    auto opened_log = storage::IntakeLog::open(dir.path() + "/intake");
    if (!opened_log.is_ok()) return fail(opened_log.status());
    intake = std::move(*opened_log);
  }
  auto writer = profiles::ProfileWriter::create(**store, clock, metrics, intake.get());
  if (!writer.is_ok()) return fail(writer.status());
  (*writer)->start();
  MemoryUsage opened = read_memory_usage();

  Loader loader(**writer, metrics, o, dir.path());
  Status loaded = loader.run();
  MemoryUsage after_load = read_memory_usage();
  DiskUsage disk = disk_usage(dir.path());
  long long stored = loader.stored();
  (*writer)->stop();
  writer->reset();
  intake.reset();
  store->reset();  // closes the write connection
  if (!loaded.is_ok()) return fail(loaded);
  auto checkpointed = checkpointed_size(dir.path());
  if (!checkpointed.is_ok()) return fail(checkpointed.status());
  // What a restart of `serve` spends opening the store (the files are in the page cache).
  auto reopen_started = SteadyClock::now();
  auto reopened = storage::open_sqlite_store(dir.path());
  const double reopen_seconds = seconds_since(reopen_started);
  if (!reopened.is_ok()) return fail(reopened.status());
  MemoryUsage after_reopen = read_memory_usage();
  reopened->reset();

  double events = static_cast<double>(stored);
  std::cout << fmt::format("loaded {} events in {:.1f} s ({:.0f} events/s)\n\nmemory:\n", stored,
                           loader.loaded_seconds(), events / loader.loaded_seconds());
  print_memory("at start:", at_start);
  print_memory("store and writer open:", opened);
  print_memory("after the load:", after_load);
  std::cout << fmt::format("  {:<34} {:>8.1f} MiB\n", "peak RSS (VmHWM):", after_load.peak_rss_kb / 1024.0);
  print_memory("store reopened (after closing):", after_reopen);
  std::cout << fmt::format("\nreopening the store (start-up, warm page cache): {:.2f} s\n", reopen_seconds);
  std::cout << fmt::format("\ndisk:\n  after the load:     db {:.1f} MiB + wal {:.1f} MiB = {:.1f} bytes/event\n",
                           mib(disk.db), mib(disk.wal), static_cast<double>(disk.total()) / events);
  if (!o.direct)
    std::cout << fmt::format("  intake log:         {:.1f} MiB of segments (applied entries; dropped segment by segment)\n",
                             mib(disk.intake));
  std::cout << fmt::format("  after a checkpoint: db {:.1f} MiB + wal {:.1f} MiB = {:.1f} bytes/event\n",
                           mib(checkpointed->db), mib(checkpointed->wal), static_cast<double>(checkpointed->total()) / events);

  nlohmann::json summary = {{"bench", "memory"},
                            {"profiles", o.profiles},
                            {"events", stored},
                            {"intake_log", !o.direct},
                            {"load_seconds", loader.loaded_seconds()},
                            {"rss_after_load_kib", after_load.rss_kb},
                            {"rss_anon_after_load_kib", after_load.anon_kb},
                            {"peak_rss_kib", after_load.peak_rss_kb},
                            {"reopen_seconds", reopen_seconds},
                            {"db_bytes", disk.db},
                            {"wal_bytes", disk.wal},
                            {"bytes_per_event", static_cast<double>(disk.total()) / events},
                            {"bytes_per_event_checkpointed", static_cast<double>(checkpointed->total()) / events}};
  std::cout << "\n" << summary.dump() << std::endl;
  return interrupted() ? 1 : 0;
}

}  // namespace
}  // namespace tp::bench

int main(int argc, char** argv) {
  tp::bench::Options o;
  CLI::App app{"Memory and disk footprint of Touchpoint after loading profiles and events"};
  app.add_option("--profiles", o.profiles, "Profiles (each starts with an identify)")->capture_default_str();
  app.add_option("--events", o.events, "Events in all, identifies included")->capture_default_str();
  app.add_option("--chunk", o.chunk, "Messages per submit (one group commit at most)")->capture_default_str();
  app.add_option("--progress", o.progress_seconds, "Seconds between progress lines")->capture_default_str();
  app.add_flag("--quick", o.quick, "A small smoke-test run: 10,000 profiles, 100,000 events");
  app.add_flag("--direct", o.direct, "Without the intake log: each chunk applied to the store before its answer");
  CLI11_PARSE(app, argc, argv);
  if (o.quick) {
    o.profiles = 10'000;
    o.events = 100'000;
    o.progress_seconds = 1;
  }
  if (o.profiles < 1 || o.events < o.profiles || o.chunk < 1 || o.profiles > 9'999'999) {
    std::cerr << "memory_bench: need 1 <= --profiles <= --events, --profiles < 10,000,000, --chunk >= 1\n";
    return 2;
  }
  return tp::bench::run(o);
}
