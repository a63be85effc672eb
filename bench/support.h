// Shared helpers of the benchmark programs: temporary directories, latency percentiles,
// process memory, run-to-run medians and interruption.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tp::bench {

using SteadyClock = std::chrono::steady_clock;

// Seconds elapsed since `start`, as a double.
inline double seconds_since(SteadyClock::time_point start) {
  return std::chrono::duration<double>(SteadyClock::now() - start).count();
}

// A fresh directory under $TMPDIR (default /tmp), removed with its contents on destruction, so
// that an early return or an exception leaves nothing behind.
class TempDir {
 public:
  explicit TempDir(std::string_view prefix);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Latency summary in milliseconds.
struct Percentiles {
  size_t count = 0;
  double p50_ms = 0, p99_ms = 0, max_ms = 0, mean_ms = 0;
};

// Nearest-rank percentiles of latencies given in microseconds.
Percentiles percentiles(std::vector<double> latencies_us);

// The median of the values (the mean of the two middle ones for an even count); 0 when empty.
double median(std::vector<double> values);

// Summarises repeated runs: each figure is the median over the runs.
Percentiles median_percentiles(const std::vector<Percentiles>& runs);

// From /proc/self/status, in KiB. RSS counts file-backed pages too (SQLite's mmap of the
// database), which the kernel can drop under pressure, so the split is reported separately.
struct MemoryUsage {
  long long rss_kb = 0;       // VmRSS
  long long peak_rss_kb = 0;  // VmHWM
  long long anon_kb = 0;      // RssAnon: heap, stacks, SQLite page cache
  long long file_kb = 0;      // RssFile: mapped files (binary, mmap'd database)
};
MemoryUsage read_memory_usage();

// Bytes written so far to the block device that holds `path` (sectors written in
// /proc/diskstats), by anyone; 0 when the device is not found (tmpfs, overlay). It counts what
// reached the disk, after the page cache merged rewrites of a page, and unlike /proc/self/io's
// write_bytes it does not count a page again each time it is dirtied (that read 5× too high).
std::uint64_t device_write_bytes(const std::string& path);

// Size in bytes of a file, 0 when it does not exist.
std::uint64_t file_size_or_zero(const std::string& path);

// The 1, 5 and 15 minute load averages, as /proc/loadavg gives them: printed with results so
// that a run disturbed by other work shows it.
std::string load_average();

// SIGINT/SIGTERM set a flag instead of killing the process: benchmark phases check it and end
// early, so destructors still stop PostgreSQL and delete temporary directories.
void install_interrupt_handler();
bool interrupted();

// A value from Prometheus text exposition (MetricsRegistry::render()), e.g.
// "touchpoint_commit_seconds_count"; 0 when absent.
double metric_value(std::string_view exposition, std::string_view name);

}  // namespace tp::bench
