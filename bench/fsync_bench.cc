// fsync_bench: what the disk under a data directory gives an append-only log, alone and beside
// background writes like a database's write-back. The foreground appends a record to a
// preallocated file (as the intake log does: no size change, so no journal commit) and
// fdatasyncs it, paced at --rate per second; the background writes random 4 KB pages into a
// 1 GiB file at a given rate and fdatasyncs it every --sync-ms. Prints p50/p99/max of the
// foreground's append + fdatasync for each background rate. See bench/README.md.
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "support.h"

namespace tp::bench {
namespace {

struct Options {
  std::vector<double> background_mb = {0, 8, 32, 128};
  int sync_ms = 50;
  int rate = 500;
  int record = 512;
  double seconds = 10;
  std::string dir;  // default: a fresh directory under $TMPDIR
  std::string background_class = "be";  // the background writer's I/O scheduling class
  int trickle_kb = 0;  // > 0: the background writes back and waits for every this many KB
};

// Puts the calling thread in an I/O scheduling class (ioprio_set(2)); "be" leaves the default.
bool set_io_class(const std::string& name) {
  if (name == "be") return true;
  constexpr int kWhoProcess = 1, kClassShift = 13, kClassIdle = 3;
  return ::syscall(SYS_ioprio_set, kWhoProcess, 0, kClassIdle << kClassShift) == 0;
}

bool write_all(int fd, const char* data, size_t n, off_t at) {
  while (n > 0) {
    ssize_t w = ::pwrite(fd, data, n, at);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return false;
    data += w, n -= static_cast<size_t>(w), at += w;
  }
  return true;
}

int run(const Options& o) {
  TempDir tmp("tp-fsync-bench");
  const std::string dir = o.dir.empty() ? tmp.path() : o.dir;
  const std::string log_path = dir + "/log", big_path = dir + "/background";
  constexpr off_t kLogBytes = 64 << 20, kBigBytes = off_t{1} << 30;
  std::vector<char> zeros(1 << 20, 0);
  int log = ::open(log_path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  int big = ::open(big_path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (log < 0 || big < 0) {
    std::cerr << "fsync_bench: cannot create files in " << dir << "\n";
    return 1;
  }
  std::cerr << "fsync_bench: preparing 64 MiB of log and 1 GiB of background file in " << dir << " ...\n";
  for (off_t at = 0; at < kBigBytes; at += static_cast<off_t>(zeros.size()))
    if (!write_all(big, zeros.data(), zeros.size(), at) || (at < kLogBytes && !write_all(log, zeros.data(), zeros.size(), at))) {
      std::cerr << "fsync_bench: cannot write in " << dir << "\n";
      return 1;
    }
  ::fsync(log);
  ::fsync(big);

  fmt::print("fsync_bench: {} B appends + fdatasync, {}/s for {:.0f} s, beside random 4 KB writes fdatasynced every {} ms"
             " (I/O class {})\n",
             o.record, o.rate, o.seconds, o.sync_ms, o.background_class);
  fmt::print("{:>16} {:>9} {:>9} {:>9} {:>9} {:>9}\n", "background MB/s", "achieved", "p50 ms", "p99 ms", "p99.9 ms", "max ms");
  std::string json = R"({"bench":"fsync","runs":[)";
  off_t log_at = 0;
  const std::string record(static_cast<size_t>(o.record), 'r');
  for (size_t run = 0; run < o.background_mb.size() && !interrupted(); ++run) {
    const double mb = o.background_mb[run];
    std::atomic<bool> stop{false};
    std::atomic<double> background_written{0};
    std::thread background([&] {
      if (mb <= 0) return;
      if (!set_io_class(o.background_class)) std::cerr << "fsync_bench: cannot set the I/O class\n";
      std::uint64_t state = 0x9E3779B97F4A7C15ULL * (run + 1);
      std::vector<char> page(4096, 'w');
      auto start = SteadyClock::now(), last_sync = start;
      double written = 0;
      long unwaited = 0;  // bytes written since the last waited write-back (--trickle-kb)
      while (!stop) {
        while (!stop && written < seconds_since(start) * mb * 1e6) {
          state = state * 6364136223846793005ULL + 1442695040888963407ULL;
          off_t at = static_cast<off_t>((state >> 33) % (kBigBytes / 4096)) * 4096;
          if (!write_all(big, page.data(), page.size(), at)) return;
          written += 4096;
          background_written = written;
          unwaited += 4096;
          if (o.trickle_kb > 0 && unwaited >= o.trickle_kb * 1024L) {
            ::sync_file_range(big, 0, 0, SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
            unwaited = 0;
          }
        }
        if (SteadyClock::now() - last_sync >= std::chrono::milliseconds(o.sync_ms)) {
          ::fdatasync(big);
          last_sync = SteadyClock::now();
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    });
    std::vector<double> latencies_us;
    auto start = SteadyClock::now();
    for (long i = 0;; ++i) {
      auto due = start + std::chrono::microseconds(1'000'000LL * i / o.rate);
      if (due > start + std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(o.seconds)) ||
          interrupted())
        break;
      std::this_thread::sleep_until(due);
      auto t0 = SteadyClock::now();
      if (log_at + o.record > kLogBytes) log_at = 0;
      if (!write_all(log, record.data(), record.size(), log_at) || ::fdatasync(log) != 0) {
        std::cerr << "fsync_bench: cannot write the log\n";
        stop = true;
        background.join();
        return 1;
      }
      log_at += o.record;
      latencies_us.push_back(std::chrono::duration<double, std::micro>(SteadyClock::now() - t0).count());
    }
    const double achieved_mb = background_written / 1e6 / seconds_since(start);
    stop = true;
    background.join();
    std::vector<double> sorted = latencies_us;
    std::sort(sorted.begin(), sorted.end());
    double p999 = sorted.empty() ? 0 : sorted[static_cast<size_t>(0.999 * static_cast<double>(sorted.size() - 1))] / 1000;
    Percentiles p = percentiles(std::move(latencies_us));
    fmt::print("{:>16.1f} {:>9.1f} {:>9.2f} {:>9.2f} {:>9.2f} {:>9.2f}\n", mb, achieved_mb, p.p50_ms, p.p99_ms, p999, p.max_ms);
    json += fmt::format(R"({}{{"background_mb_per_s":{},"achieved_mb_per_s":{},"p50_ms":{},"p99_ms":{},"max_ms":{},"appends":{}}})",
                        run ? "," : "", mb, achieved_mb, p.p50_ms, p.p99_ms, p.max_ms, p.count);
  }
  ::close(log);
  ::close(big);
  fmt::print("{}]}}\n", json);
  return 0;
}

}  // namespace
}  // namespace tp::bench

int main(int argc, char** argv) {
  tp::bench::Options o;
  CLI::App app{"fsync latency of an append-only log, alone and beside random background writes"};
  app.add_option("--background-mb", o.background_mb, "Background write rates to try, MB/s (0: none)")->capture_default_str();
  app.add_option("--sync-ms", o.sync_ms, "Background fdatasync interval")->capture_default_str();
  app.add_option("--rate", o.rate, "Appends per second")->capture_default_str();
  app.add_option("--record", o.record, "Bytes per append")->capture_default_str();
  app.add_option("--seconds", o.seconds, "Seconds per background rate")->capture_default_str();
  app.add_option("--background-class", o.background_class, "The background writer's I/O class: be (default) or idle")
      ->check(CLI::IsMember({"be", "idle"}))
      ->capture_default_str();
  app.add_option("--trickle-kb", o.trickle_kb, "Background: write back and wait after every this many KB (0: only the fdatasyncs)")
      ->check(CLI::Range(0, 1 << 20))
      ->capture_default_str();
  app.add_option("--dir", o.dir, "Directory on the disk to measure (default: a temporary one under $TMPDIR)");
  bool quick = false;
  app.add_flag("--quick", quick, "A small smoke-test run: 1 s per rate");
  CLI11_PARSE(app, argc, argv);
  if (quick) o.seconds = 1;
  tp::bench::install_interrupt_handler();
  return tp::bench::run(o);
}
