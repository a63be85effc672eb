#include "support.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <fstream>
#include <numeric>
#include <stdexcept>

namespace tp::bench {

TempDir::TempDir(std::string_view prefix) {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = fmt::format("{}/{}-XXXXXX", tmp != nullptr && *tmp != '\0' ? tmp : "/tmp", prefix);
  if (::mkdtemp(pattern.data()) == nullptr)
    throw std::runtime_error(fmt::format("cannot create a temporary directory {}", pattern));
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
  // Commit the removal now: on a file system mounted with `discard`, freeing hundreds of MB trims
  // them at the journal's next commit, which stalled the next run's fsyncs for ~100 ms.
  int fd = ::open(std::filesystem::path(path_).parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    (void)::syncfs(fd);
    ::close(fd);
  }
}

Percentiles percentiles(std::vector<double> latencies_us) {
  Percentiles p;
  p.count = latencies_us.size();
  if (latencies_us.empty()) return p;
  std::sort(latencies_us.begin(), latencies_us.end());
  auto rank = [&](double q) {
    auto i = static_cast<size_t>(std::ceil(q * static_cast<double>(latencies_us.size())));
    return latencies_us[std::clamp<size_t>(i, 1, latencies_us.size()) - 1] / 1000.0;
  };
  p.p50_ms = rank(0.50);
  p.p99_ms = rank(0.99);
  p.max_ms = latencies_us.back() / 1000.0;
  p.mean_ms = std::accumulate(latencies_us.begin(), latencies_us.end(), 0.0) /
              static_cast<double>(latencies_us.size()) / 1000.0;
  return p;
}

double median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

Percentiles median_percentiles(const std::vector<Percentiles>& runs) {
  auto of = [&](auto member) {
    std::vector<double> v;
    for (const auto& r : runs) v.push_back(static_cast<double>(r.*member));
    return median(std::move(v));
  };
  Percentiles p;
  p.count = static_cast<size_t>(of(&Percentiles::count));
  p.p50_ms = of(&Percentiles::p50_ms);
  p.p99_ms = of(&Percentiles::p99_ms);
  p.max_ms = of(&Percentiles::max_ms);
  p.mean_ms = of(&Percentiles::mean_ms);
  return p;
}

MemoryUsage read_memory_usage() {
  MemoryUsage m;
  std::ifstream status("/proc/self/status");
  std::string line;
  auto parse = [&](std::string_view key, long long& out) {
    if (line.rfind(key, 0) != 0) return;
    std::string_view rest = std::string_view(line).substr(key.size());
    while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
    std::from_chars(rest.data(), rest.data() + rest.size(), out);
  };
  while (std::getline(status, line)) {
    parse("VmRSS:", m.rss_kb);
    parse("VmHWM:", m.peak_rss_kb);
    parse("RssAnon:", m.anon_kb);
    parse("RssFile:", m.file_kb);
  }
  return m;
}

std::uint64_t device_write_bytes(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0;
  std::ifstream stats("/proc/diskstats");
  std::string line;
  while (std::getline(stats, line)) {
    std::istringstream fields(line);
    unsigned major = 0, minor = 0;
    std::string name;
    std::uint64_t v[7] = {};  // reads, merged, sectors read, ms reading, writes, merged, sectors written
    if (!(fields >> major >> minor >> name >> v[0] >> v[1] >> v[2] >> v[3] >> v[4] >> v[5] >> v[6])) continue;
    if (major == ::major(st.st_dev) && minor == ::minor(st.st_dev)) return v[6] * 512;
  }
  return 0;
}

std::uint64_t file_size_or_zero(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
}

std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string one, five, fifteen;
  in >> one >> five >> fifteen;
  return fmt::format("{} {} {}", one, five, fifteen);
}

namespace {
std::atomic<bool> g_interrupted{false};
extern "C" void on_interrupt(int) { g_interrupted.store(true); }
}  // namespace

void install_interrupt_handler() {
  std::signal(SIGINT, on_interrupt);
  std::signal(SIGTERM, on_interrupt);
}

bool interrupted() { return g_interrupted.load(); }

double metric_value(std::string_view exposition, std::string_view name) {
  size_t pos = 0;
  while (pos < exposition.size()) {
    size_t end = exposition.find('\n', pos);
    if (end == std::string_view::npos) end = exposition.size();
    std::string_view line = exposition.substr(pos, end - pos);
    if (line.size() > name.size() && line.substr(0, name.size()) == name && line[name.size()] == ' ')
      return std::strtod(std::string(line.substr(name.size() + 1)).c_str(), nullptr);
    pos = end + 1;
  }
  return 0;
}

}  // namespace tp::bench
