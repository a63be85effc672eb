// Process metrics, rendered in the Prometheus text exposition format for GET /metrics.
//
// Thread-safety: every method may be called from any thread. Counter/Gauge/Histogram returned
// by the registry live as long as the registry; keep the reference on hot paths.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace tp {

class Counter {
 public:
  void add(long long n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
  long long value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<long long> v_{0};
};

class Gauge {
 public:
  void set(long long n) { v_.store(n, std::memory_order_relaxed); }
  void add(long long n) { v_.fetch_add(n, std::memory_order_relaxed); }
  long long value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<long long> v_{0};
};

// Cumulative histogram with fixed upper bounds (in seconds for latencies).
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double v);
  void render(std::string& out, const std::string& name) const;
  long long count() const { return count_.load(std::memory_order_relaxed); }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<long long>[]> buckets_;  // one per bound, plus +Inf
  std::atomic<long long> count_{0};
  std::atomic<long long> sum_micros_{0};
};

class MetricsRegistry {
 public:
  // `labels` is the inside of the braces, e.g. `route="/v1/batch",code="200"`; may be empty.
  Counter& counter(const std::string& name, const std::string& help, const std::string& labels = "");
  Gauge& gauge(const std::string& name, const std::string& help, const std::string& labels = "");
  Histogram& histogram(const std::string& name, const std::string& help,
                       const std::vector<double>& bounds);
  std::string render() const;

 private:
  struct Family {
    std::string type, help;
    std::map<std::string, std::unique_ptr<Counter>> counters;
    std::map<std::string, std::unique_ptr<Gauge>> gauges;
    std::unique_ptr<Histogram> histogram;
  };
  Family& family(const std::string& name, const char* type, const std::string& help);

  mutable std::mutex mu_;
  std::map<std::string, Family> families_;  // GUARDED_BY(mu_)
};

// Bounds for latencies in seconds, 100 µs to 10 s.
std::vector<double> latency_bounds();

}  // namespace tp
