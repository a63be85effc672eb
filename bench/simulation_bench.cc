// simulation_bench: the journey engine (tp::journeys::Engine, the deterministic core of
// `touchpoint simulate`) on one core. Phase "steps": journey steps executed/s (an instance
// arriving at a step of the journey file: send, wait_for, delay, exit, ...), effects/s and
// messages/s for N customers through the seed journey conversion-from-web, with a counting sink
// and with the JSON-lines sink that simulate uses. Phase "memory": bytes of engine state per instance waiting in the
// journey's 48 h wait_for. See bench/README.md.
#include <fmt/format.h>
#include <malloc.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <ctime>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/log.h"
#include "base/time_format.h"
#include "journeys/engine.h"
#include "journeys/loader.h"
#include "support.h"

#ifndef TP_SOURCE_DIR
#define TP_SOURCE_DIR "."
#endif

namespace tp::bench {
namespace {

using journeys::Effect;
using journeys::Engine;
using journeys::Json;
using journeys::Workspace;
using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

struct Options {
  std::string journeys_dir = std::string(TP_SOURCE_DIR) + "/examples/journeys";
  std::string journey = "conversion-from-web";
  long long customers = 1'000'000;
  long long waiting = 1'000'000;
  int repetitions = 3;
  double days = 3;                  // Form Submitted times are spread over this many days
  double open_rate = 0.40;          // open the confirmation, 0-60 h after the form
  double reminder_open_rate = 0.15; // (of all customers) open the reminder instead, 60-90 h after
  double meeting_rate = 0.30;       // of those who open: book a meeting 1-96 h after the open
  std::uint64_t seed = 20261124;
  bool full_messages = false;       // memory phase: Form Submitted with messageId and context
  std::string only = "steps,memory";
  bool quick = false;
};

constexpr double kTargetStepsPerSecond = 1'000'000;
constexpr double kTargetInstances = 10'000'000;
// 2 GB for 10M waiting instances, read as decimal (2,000,000,000 bytes): the stricter of the two
// readings, so that the figure meets the target either way.
constexpr double kTargetBytes = 2e9;
constexpr double kTargetBytesPerInstance = kTargetBytes / kTargetInstances;  // 200

// --- Deterministic input -----------------------------------------------------------------------

// splitmix64: the same sequence on every platform and standard library (unlike <random>'s
// distributions), so the input is the same wherever the benchmark runs.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }  // [0, 1)
  size_t below(size_t n) { return static_cast<size_t>(next() % n); }
  Millis between(Millis lo, Millis hi) {  // [lo, hi)
    return lo + Millis(static_cast<long long>(uniform() * static_cast<double>((hi - lo).count())));
  }

 private:
  std::uint64_t state_;
};

// Monday 2026-03-02 00:00 UTC: no DST change in the zones below for the next few weeks.
const Timestamp kStart = Timestamp(std::chrono::sys_days(std::chrono::year(2026) / 3 / 2).time_since_epoch());

constexpr std::array kZones = {"Europe/Stockholm", "Europe/London",       "America/New_York",
                               "America/Los_Angeles", "Asia/Tokyo",     "Australia/Sydney"};
constexpr std::array kForms = {"whitepaper-ai", "whitepaper-security", "pricing-request", "demo-request"};
constexpr int kOwners = 25;

std::string user_id(long long i) { return fmt::format("user-{:07d}", i); }

Json identify_message(long long i, Rng& rng, Timestamp t) {
  std::string id = user_id(i);
  return {{"type", "identify"},
          {"userId", id},
          {"traits",
           {{"email", id + "@example.com"},
            {"owner", fmt::format("rep-{:02d}", rng.below(kOwners))},
            {"timezone", kZones[rng.below(kZones.size())]}}},
          {"timestamp", format_iso8601(t)}};
}

Json track_message(long long i, const char* event, Json properties, Timestamp t) {
  return {{"type", "track"},
          {"userId", user_id(i)},
          {"event", event},
          {"properties", std::move(properties)},
          {"timestamp", format_iso8601(t)}};
}

// What a Segment library adds to a track call: a messageId and a little context.
void add_segment_fields(Json& m, long long i) {
  m["messageId"] = fmt::format("{:08x}-4bd1-4e0c-9f3a-{:012x}", static_cast<std::uint32_t>(i * 2654435761u), i);
  m["context"] = {{"library", {{"name", "analytics.js"}, {"version", "4.1.0"}}},
                  {"ip", "203.0.113.17"},
                  {"userAgent", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 Safari/605.1.15"},
                  {"page", {{"path", "/whitepapers"}, {"url", "https://www.example.com/whitepapers"}}}};
}

struct Input {
  Timestamp time;
  Json message;
};

struct InputStats {
  long long identify = 0, forms = 0, confirmation_opens = 0, reminder_opens = 0, meetings = 0;
  long long total() const { return identify + forms + confirmation_opens + reminder_opens + meetings; }
};

// Every customer: an identify (traits email, owner, timezone) 1 s-10 min before a Form
// Submitted at a random moment in the first `days`; then the synthetic engagement. Sorted by
// event time (ties keep generation order), as simulate sorts its input.
std::vector<Input> generate_input(const Options& o, InputStats& stats) {
  struct Spec {
    Timestamp time;
    long long customer;
    int kind;  // 0 identify, 1 form, 2 open confirmation, 3 open reminder, 4 meeting
    int form;
  };
  Rng rng(o.seed);
  std::vector<Spec> specs;
  specs.reserve(static_cast<size_t>(o.customers * 3));
  const Millis span = std::chrono::duration_cast<Millis>(std::chrono::duration<double, std::ratio<86400>>(o.days));
  for (long long i = 0; i < o.customers; ++i) {
    Timestamp form = kStart + rng.between(Millis(0), span);
    int which = static_cast<int>(rng.below(kForms.size()));
    specs.push_back({form - rng.between(seconds(1), minutes(10)), i, 0, 0});
    specs.push_back({form, i, 1, which});
    double r = rng.uniform();
    std::optional<Timestamp> opened;
    if (r < o.open_rate) {
      opened = form + rng.between(Millis(0), hours(60));
      specs.push_back({*opened, i, 2, which});
    } else if (r < o.open_rate + o.reminder_open_rate) {
      // After the reminder went out: 48 h, plus at most ~11 h of quiet hours.
      opened = form + rng.between(hours(60), hours(90));
      specs.push_back({*opened, i, 3, which});
    }
    if (opened && rng.uniform() < o.meeting_rate) specs.push_back({*opened + rng.between(hours(1), hours(96)), i, 4, which});
  }
  std::stable_sort(specs.begin(), specs.end(), [](const Spec& a, const Spec& b) { return a.time < b.time; });

  // The traits are drawn from their own stream so that they do not depend on the sort.
  Rng traits_rng(o.seed ^ 0x5EED);
  std::vector<Input> out;
  out.reserve(specs.size());
  for (const Spec& s : specs) {
    switch (s.kind) {
      case 0:
        out.push_back({s.time, identify_message(s.customer, traits_rng, s.time)});
        ++stats.identify;
        break;
      case 1:
        out.push_back({s.time, track_message(s.customer, "Form Submitted", {{"form", kForms[s.form]}}, s.time)});
        ++stats.forms;
        break;
      case 2:
      case 3:
        out.push_back({s.time, track_message(s.customer, "Email Opened",
                                             {{"journey", "conversion-from-web"},
                                              {"step", s.kind == 2 ? "confirmation" : "reminder"}},
                                             s.time)});
        ++(s.kind == 2 ? stats.confirmation_opens : stats.reminder_opens);
        break;
      case 4:
        out.push_back({s.time, track_message(s.customer, "Meeting Booked", {{"form", kForms[s.form]}}, s.time)});
        ++stats.meetings;
        break;
    }
  }
  return out;
}

// --- Effects -----------------------------------------------------------------------------------

struct EffectCounts {
  long long total = 0, enter = 0, send = 0, suppressed = 0, task = 0, goal = 0, exit = 0, other = 0;
  void add(const Effect& e) {
    ++total;
    std::string_view a = e.action;
    if (a == "send") ++send;
    else if (a == "enter") ++enter;
    else if (a == "exit") ++exit;
    else if (a == "task") ++task;
    else if (a == "goal") ++goal;
    else if (a == "suppressed") ++suppressed;
    else ++other;
  }
  bool operator==(const EffectCounts&) const = default;
  std::string to_string() const {
    return fmt::format("enter {}, send {}, suppressed {}, task {}, goal {}, exit {}, other {}", enter, send, suppressed,
                       task, goal, exit, other);
  }
};

// --- Phase 1: steps per second -------------------------------------------------------------------

enum class SinkKind { kCount, kJsonLines };

// CPU time of this thread: unlike the wall clock, it does not count time spent waiting for a
// core that other work on the machine holds.
double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

struct RunResult {
  double seconds = 0;           // feeding the messages + running every timer, wall clock
  double cpu_seconds = 0;       // the same, thread CPU time
  double teardown_seconds = 0;  // destroying the engine (not in `seconds`)
  long long steps = 0;          // journey steps executed (Engine::steps_executed)
  long long effects = 0;
  long long timer_rounds = 0;   // advance_to calls after the input, one per distinct next_timer()
  long long json_bytes = 0;
  EffectCounts counts;
};

// `input` is a copy, made before the clock starts: the messages are handed over to the engine
// (moved), as simulate hands over each message it read.
RunResult run_once(const Workspace& ws, std::vector<Input> input, SinkKind kind) {
  RunResult r;
  std::string buffer;
  journeys::EffectSink sink;
  // The counting sink classifies too, so that both sinks do the same bookkeeping and the
  // difference between them is to_json() alone.
  if (kind == SinkKind::kCount) {
    sink = [&](const Effect& e) { r.counts.add(e); };
  } else {
    sink = [&](const Effect& e) {
      r.counts.add(e);
      buffer.clear();
      e.append_json(buffer);  // what simulate's sink does, minus the write to its ostream
      buffer.push_back('\n');
      r.json_bytes += static_cast<long long>(buffer.size());
    };
  }
  auto engine = std::make_unique<Engine>(ws, std::move(sink));
  auto start = SteadyClock::now();
  double cpu_start = thread_cpu_seconds();
  for (Input& in : input) engine->on_message(std::move(in.message), in.time);
  // As simulate does: until no instance has a timer (date-trigger entries alone never run out).
  while (auto t = engine->next_timer(/*include_dates=*/false)) {
    engine->advance_to(*t);
    ++r.timer_rounds;
  }
  r.cpu_seconds = thread_cpu_seconds() - cpu_start;
  r.seconds = seconds_since(start);
  r.steps = static_cast<long long>(engine->steps_executed());
  auto teardown = SteadyClock::now();
  engine.reset();
  r.teardown_seconds = seconds_since(teardown);
  input = {};  // what is left of the messages (not timed either)
  r.effects = r.counts.total;
  return r;
}

struct StepsResult {
  long long messages = 0;
  InputStats stats;
  double generate_seconds = 0;
  RunResult cold;  // the first run in the process: the heap still has to grow (page faults)
  std::vector<RunResult> count_runs, json_runs;
};

double messages_per_second(const StepsResult& s, const RunResult& r) { return static_cast<double>(s.messages) / r.seconds; }
double steps_per_second(const RunResult& r) { return static_cast<double>(r.steps) / r.seconds; }
double steps_per_cpu_second(const RunResult& r) { return static_cast<double>(r.steps) / r.cpu_seconds; }
double effects_per_second(const RunResult& r) { return static_cast<double>(r.effects) / r.seconds; }
double messages_per_cpu_second(const StepsResult& s, const RunResult& r) {
  return static_cast<double>(s.messages) / r.cpu_seconds;
}
double effects_per_cpu_second(const RunResult& r) { return static_cast<double>(r.effects) / r.cpu_seconds; }

template <typename F>
double median_of(const std::vector<RunResult>& runs, F f) {
  std::vector<double> v;
  for (const auto& r : runs) v.push_back(f(r));
  return median(std::move(v));
}

std::optional<StepsResult> run_steps(const Options& o, const Workspace& ws) {
  StepsResult s;
  std::cerr << fmt::format("steps: generating the input of {} customers ...\n", o.customers);
  auto started = SteadyClock::now();
  std::vector<Input> input = generate_input(o, s.stats);
  s.generate_seconds = seconds_since(started);
  s.messages = static_cast<long long>(input.size());
  std::cerr << fmt::format("steps: {} messages in {:.1f} s\n", s.messages, s.generate_seconds);
  // A first, untimed-for-the-medians run: it pays for growing the heap (page faults, zeroed
  // pages), which later runs reuse, so that every measured run starts alike.
  s.cold = run_once(ws, input, SinkKind::kCount);
  std::cerr << fmt::format("steps: cold run (counting, not in the medians): {:.2f} s ({:.2f} s CPU)\n", s.cold.seconds,
                           s.cold.cpu_seconds);
  for (int rep = 0; rep < o.repetitions && !interrupted(); ++rep) {
    // The two sinks alternate, so that drift on the machine touches both alike.
    for (SinkKind kind : {SinkKind::kCount, SinkKind::kJsonLines}) {
      RunResult r = run_once(ws, input, kind);
      std::cerr << fmt::format(
          "steps: run {} ({}): {:.2f} s ({:.2f} s CPU), {} steps, {} effects, {:.0f} steps/s, {:.0f} effects/s, "
          "{:.0f} messages/s\n",
          rep + 1, kind == SinkKind::kCount ? "counting" : "json lines", r.seconds, r.cpu_seconds, r.steps, r.effects,
          steps_per_second(r), effects_per_second(r), messages_per_second(s, r));
      (kind == SinkKind::kCount ? s.count_runs : s.json_runs).push_back(r);
    }
  }
  // The engine is deterministic: every run must have produced the same effects.
  for (const auto* runs : {&s.count_runs, &s.json_runs})
    for (const auto& r : *runs)
      if (!(r.counts == s.cold.counts) || r.steps != s.cold.steps) {
        std::cerr << "simulation_bench: runs produced different effects or steps: " << r.counts.to_string() << ", "
                  << r.steps << " steps vs " << s.cold.counts.to_string() << ", " << s.cold.steps << " steps\n";
        return std::nullopt;
      }
  return s;
}

// --- Phase 2: bytes per waiting instance ---------------------------------------------------------

// Bytes malloc has handed out and not had back (all arenas, mmapped blocks included), with
// malloc's own per-chunk overhead: the engine's heap footprint without free-list slack.
long long heap_in_use() {
  struct mallinfo2 mi = mallinfo2();
  return static_cast<long long>(mi.uordblks + mi.hblkhd);
}

struct MemoryResult {
  std::string name;
  long long instances = 0;
  long long effects = 0;
  double feed_seconds = 0;
  long long anon_kb_before = 0, anon_kb_after = 0;
  long long heap_before = 0, heap_after = 0;
  double anon_bytes_per_instance() const {
    return static_cast<double>(anon_kb_after - anon_kb_before) * 1024.0 / static_cast<double>(instances);
  }
  double heap_bytes_per_instance() const {
    return static_cast<double>(heap_after - heap_before) / static_cast<double>(instances);
  }
};

// Feeds `o.waiting` customers (with an identify first when `with_traits`) so that each one ends
// up in the journey's 48 h wait_for, all within 24 h of event time so that no timer fires.
// Each message is made just before it is fed and dropped right after, so what stays is the
// engine's state only.
std::optional<MemoryResult> measure_waiting(const Options& o, const Workspace& ws, const std::string& name,
                                            bool with_traits, bool full_messages) {
  MemoryResult m;
  m.name = name;
  m.instances = o.waiting;
  EffectCounts counts;
  malloc_trim(0);
  MemoryUsage before = read_memory_usage();
  m.anon_kb_before = before.anon_kb;
  m.heap_before = heap_in_use();
  auto engine = std::make_unique<Engine>(ws, [&](const Effect& e) { counts.add(e); });
  Rng rng(o.seed + 1);
  const Millis step = Millis(hours(24)) / o.waiting;
  auto started = SteadyClock::now();
  for (long long i = 0; i < o.waiting && !interrupted(); ++i) {
    Timestamp t = kStart + step * i;
    if (with_traits) {
      Json identify = identify_message(i, rng, t);
      engine->on_message(std::move(identify), t);
    }
    Json form = track_message(i, "Form Submitted", {{"form", kForms[rng.below(kForms.size())]}}, t);
    if (full_messages) add_segment_fields(form, i);
    engine->on_message(std::move(form), t);
  }
  m.feed_seconds = seconds_since(started);
  malloc_trim(0);
  MemoryUsage after = read_memory_usage();
  m.anon_kb_after = after.anon_kb;
  m.heap_after = heap_in_use();
  m.effects = counts.total;
  // Every customer entered and got the confirmation (or, without an address, its suppression);
  // nobody left, and the earliest timer is the first 48 h timeout.
  auto next = engine->next_timer();
  bool ok = counts.enter == o.waiting && counts.send + counts.suppressed == o.waiting && counts.exit == 0 &&
            counts.total == 2 * o.waiting && next && *next >= kStart + hours(48);
  if (!ok && !interrupted()) {
    std::cerr << fmt::format("simulation_bench: memory phase \"{}\": not every instance is waiting ({})\n", name,
                             counts.to_string());
    return std::nullopt;
  }
  std::cerr << fmt::format("memory: {}: {:.0f} B/instance (RssAnon), {:.0f} B/instance (heap), fed in {:.1f} s\n", name,
                           m.anon_bytes_per_instance(), m.heap_bytes_per_instance(), m.feed_seconds);
  engine.reset();
  malloc_trim(0);
  return m;
}

// --- Report --------------------------------------------------------------------------------------

std::string with_commas(long long v) {
  std::string digits = std::to_string(v < 0 ? -v : v), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return v < 0 ? "-" + out : out;
}

void print_steps(const Options& o, const StepsResult& s) {
  const RunResult& any = s.count_runs.front();
  std::cout << fmt::format(
      "1. steps/s: {} customers through {}, {} messages in event-time order, then every timer; "
      "single thread, fresh Engine per run, median of {} run(s)\n",
      with_commas(o.customers), o.journey, with_commas(s.messages), s.count_runs.size());
  std::cout << fmt::format(
      "   input: {} identify, {} Form Submitted, {} confirmation opens, {} reminder opens, {} Meeting Booked "
      "(generated before timing in {:.1f} s)\n",
      with_commas(s.stats.identify), with_commas(s.stats.forms), with_commas(s.stats.confirmation_opens),
      with_commas(s.stats.reminder_opens), with_commas(s.stats.meetings), s.generate_seconds);
  std::cout << fmt::format("   steps per run: {}; effects per run: {} ({}); timer rounds after the input: {}\n",
                           with_commas(any.steps), with_commas(any.effects), any.counts.to_string(),
                           with_commas(any.timer_rounds));
  std::cout << "   a step = an instance executing a step of the journey file (send, wait_for, delay, task, exit, ...), "
               "counted once per arrival at the step (a wait resumed by its timer is not counted again); entering and "
               "goal/exit by event are effects, not steps. An effect = one effect through the sink (enter, send, "
               "suppressed, task, goal, exit, ...). The target is judged on steps/s.\n\n";
  std::cout << fmt::format("   {:<31} {:<11} {:>8} {:>12} {:>12} {:>12} {:>9} {:>9}\n", "sink", "clock", "seconds",
                           "steps/s", "effects/s", "messages/s", "ns/step", "vs 1M/s");
  auto row = [&](const char* name, const std::vector<RunResult>& runs) {
    double secs = median_of(runs, [](const RunResult& r) { return r.seconds; });
    double cpu = median_of(runs, [](const RunResult& r) { return r.cpu_seconds; });
    double sps = median_of(runs, [](const RunResult& r) { return steps_per_second(r); });
    double eps = median_of(runs, [](const RunResult& r) { return effects_per_second(r); });
    double mps = median_of(runs, [&](const RunResult& r) { return messages_per_second(s, r); });
    double sps_cpu = median_of(runs, [](const RunResult& r) { return steps_per_cpu_second(r); });
    double eps_cpu = median_of(runs, [](const RunResult& r) { return effects_per_cpu_second(r); });
    double mps_cpu = median_of(runs, [&](const RunResult& r) { return messages_per_cpu_second(s, r); });
    auto line = [&](const char* label, const char* clock, double seconds, double st, double e, double m) {
      std::cout << fmt::format("   {:<31} {:<11} {:>8.2f} {:>12} {:>12} {:>12} {:>9.0f} {:>8.2f}x\n", label, clock,
                               seconds, with_commas(static_cast<long long>(st)), with_commas(static_cast<long long>(e)),
                               with_commas(static_cast<long long>(m)), 1e9 / st, st / kTargetStepsPerSecond);
    };
    line(name, "wall", secs, sps, eps, mps);
    line("", "thread CPU", cpu, sps_cpu, eps_cpu, mps_cpu);
  };
  row("counting only", s.count_runs);
  row("to_json() lines (as simulate)", s.json_runs);
  std::cout << fmt::format("   {:<31} {:<11} {:>8.2f} {:>12} {:>12}  (the first run in the process, which grows the "
                           "heap; not in the medians)\n",
                           "counting, cold heap", "wall", s.cold.seconds,
                           with_commas(static_cast<long long>(steps_per_second(s.cold))),
                           with_commas(static_cast<long long>(effects_per_second(s.cold))));
  std::cout << "   per run, wall (CPU) seconds:";
  for (size_t i = 0; i < s.count_runs.size(); ++i) {
    std::cout << fmt::format(" counting {:.2f} ({:.2f})", s.count_runs[i].seconds, s.count_runs[i].cpu_seconds);
    if (i < s.json_runs.size())
      std::cout << fmt::format(", json {:.2f} ({:.2f});", s.json_runs[i].seconds, s.json_runs[i].cpu_seconds);
  }
  std::cout << fmt::format("\n   destroying the engine after a run (not timed above): {:.2f} s",
                           median_of(s.count_runs, [](const RunResult& r) { return r.teardown_seconds; }));
  std::cout << fmt::format("\n   JSON lines per run: {:.1f} MiB\n", static_cast<double>(s.json_runs.front().json_bytes) / 1048576.0);
  auto verdict = [&](const std::vector<RunResult>& runs) {
    double wall = median_of(runs, [](const RunResult& r) { return steps_per_second(r); });
    double cpu = median_of(runs, [](const RunResult& r) { return steps_per_cpu_second(r); });
    return fmt::format("{} ({:.2f}x wall, {:.2f}x CPU)", std::max(wall, cpu) >= kTargetStepsPerSecond ? "met" : "NOT met",
                       wall / kTargetStepsPerSecond, cpu / kTargetStepsPerSecond);
  };
  std::cout << fmt::format("   target >= 1,000,000 steps/s on one core: counting {}; json lines {}\n\n",
                           verdict(s.count_runs), verdict(s.json_runs));
}

void print_memory(const Options& o, const std::vector<MemoryResult>& results) {
  std::cout << fmt::format(
      "2. bytes per waiting instance: {} customers fed a Form Submitted within 24 h of event time, each "
      "instance in the 48 h wait_for, no timer fired; engine state only (messages made and freed one by one), "
      "after malloc_trim(0)\n\n",
      with_commas(o.waiting));
  std::cout << fmt::format("   {:<38} {:>12} {:>10} {:>10} {:>14} {:>12} {:>9}\n", "input per customer", "RssAnon MiB",
                           "B/inst", "heap B/inst", "10M inst (RSS)", "vs 200 B", "target");
  for (const auto& m : results) {
    double per = m.anon_bytes_per_instance();
    double total = per * kTargetInstances;
    std::cout << fmt::format("   {:<38} {:>12.1f} {:>10.0f} {:>10.0f} {:>10.2f} GB {:>12.2f}x {:>9}\n", m.name,
                             static_cast<double>(m.anon_kb_after - m.anon_kb_before) / 1024.0, per,
                             m.heap_bytes_per_instance(), total / 1e9, per / kTargetBytesPerInstance,
                             total <= kTargetBytes ? "met" : "NOT met");
  }
  std::cout << "   B/inst: RssAnon after - before, per instance; heap: malloc's bytes in use (mallinfo2) after - before.\n"
               "   vs 200 B: the ratio to the target's budget (10,000,000 waiting instances in <= 2 GB = 2e9 bytes); "
               "below 1.00x meets it.\n\n";
}

nlohmann::json summary_json(const Options& o, const std::optional<StepsResult>& steps,
                            const std::vector<MemoryResult>& memory) {
  nlohmann::json j = {{"bench", "simulation"}, {"journey", o.journey}, {"repetitions", o.repetitions}};
  if (steps) {
    j["customers"] = o.customers;
    j["messages"] = steps->messages;
    j["steps"] = steps->count_runs.front().steps;
    j["effects"] = steps->count_runs.front().effects;
    j["steps_per_second"] = median_of(steps->count_runs, [](const RunResult& r) { return steps_per_second(r); });
    j["steps_per_cpu_second"] = median_of(steps->count_runs, [](const RunResult& r) { return steps_per_cpu_second(r); });
    j["effects_per_second"] = median_of(steps->count_runs, [](const RunResult& r) { return effects_per_second(r); });
    j["effects_per_cpu_second"] =
        median_of(steps->count_runs, [](const RunResult& r) { return effects_per_cpu_second(r); });
    j["messages_per_second"] =
        median_of(steps->count_runs, [&](const RunResult& r) { return messages_per_second(*steps, r); });
    j["steps_per_second_json_lines"] =
        median_of(steps->json_runs, [](const RunResult& r) { return steps_per_second(r); });
    j["effects_per_second_json_lines"] =
        median_of(steps->json_runs, [](const RunResult& r) { return effects_per_second(r); });
    j["messages_per_second_json_lines"] =
        median_of(steps->json_runs, [&](const RunResult& r) { return messages_per_second(*steps, r); });
  }
  for (const auto& m : memory)
    j["waiting"].push_back({{"input", m.name},
                            {"instances", m.instances},
                            {"bytes_per_instance_rss_anon", m.anon_bytes_per_instance()},
                            {"bytes_per_instance_heap", m.heap_bytes_per_instance()},
                            {"extrapolated_10m_bytes", m.anon_bytes_per_instance() * kTargetInstances}});
  return j;
}

int run(const Options& o) {
  install_interrupt_handler();
  log::set_min_level(log::Level::kWarn);
  std::vector<journeys::Problem> problems;
  auto loaded = journeys::load_workspace(o.journeys_dir, problems);
  if (!loaded.is_ok() || !problems.empty()) {
    std::cerr << "simulation_bench: cannot load " << o.journeys_dir << ": " << loaded.status().message() << "\n";
    for (const auto& p : problems) std::cerr << "  " << p.to_string() << "\n";
    return 1;
  }
  const Workspace& ws = *loaded;
  if (std::none_of(ws.journeys.begin(), ws.journeys.end(), [&](const auto& j) { return j.id == o.journey; })) {
    std::cerr << "simulation_bench: no journey \"" << o.journey << "\" in " << o.journeys_dir << "\n";
    return 1;
  }
  if (o.journey != "conversion-from-web")
    std::cerr << "simulation_bench: note: the synthetic input is shaped for conversion-from-web\n";
  std::set<std::string> phases;
  for (size_t at = 0; at <= o.only.size();) {
    size_t comma = std::min(o.only.find(',', at), o.only.size());
    phases.insert(o.only.substr(at, comma - at));
    at = comma + 1;
  }

  std::cout << fmt::format("simulation_bench: journeys from {} ({} journeys, all loaded as simulate loads them); "
                           "seed {}; load average {}\n\n",
                           o.journeys_dir, ws.journeys.size(), o.seed, load_average());

  // Memory first, while the heap is fresh: the steps phase leaves a large, fragmented heap.
  std::vector<MemoryResult> memory;
  if (phases.count("memory")) {
    std::vector<std::pair<std::string, std::pair<bool, bool>>> variants = {
        {"Form Submitted only", {false, false}}, {"identify (3 traits) + Form Submitted", {true, false}}};
    if (o.full_messages) variants.push_back({"identify + Form Submitted with context", {true, true}});
    for (const auto& [name, flags] : variants) {
      if (interrupted()) break;
      auto m = measure_waiting(o, ws, name, flags.first, flags.second);
      if (!m) return 1;
      memory.push_back(*m);
    }
  }
  std::optional<StepsResult> steps;
  if (phases.count("steps") && !interrupted()) {
    steps = run_steps(o, ws);
    if (!steps) return 1;
  }

  if (steps && !steps->count_runs.empty()) print_steps(o, *steps);
  if (!memory.empty()) print_memory(o, memory);
  std::cout << fmt::format("load average at the end: {}\n\n", load_average());
  std::cout << summary_json(o, steps, memory).dump() << std::endl;
  return interrupted() ? 1 : 0;
}

}  // namespace
}  // namespace tp::bench

int main(int argc, char** argv) {
  tp::bench::Options o;
  CLI::App app{"The journey engine on one core: steps/s through conversion-from-web, bytes per waiting instance"};
  app.add_option("--customers", o.customers, "Customers in the steps phase")->capture_default_str();
  app.add_option("--waiting", o.waiting, "Waiting instances in the memory phase")->capture_default_str();
  app.add_option("--repetitions", o.repetitions, "Runs of each sink in the steps phase; medians are reported")
      ->capture_default_str();
  app.add_option("--journeys", o.journeys_dir, "The workspace: a folder of journey files and policies.yaml")
      ->capture_default_str();
  app.add_option("--journey", o.journey, "The journey the input is meant for (it must be in the workspace)")
      ->capture_default_str();
  app.add_option("--days", o.days, "Days over which the Form Submitted events are spread")->capture_default_str();
  app.add_option("--open-rate", o.open_rate, "Share of customers who open the confirmation (0-60 h)")->capture_default_str();
  app.add_option("--reminder-open-rate", o.reminder_open_rate, "Share who open the reminder instead (60-90 h)")
      ->capture_default_str();
  app.add_option("--meeting-rate", o.meeting_rate, "Share of openers who book a meeting (1-96 h after the open)")
      ->capture_default_str();
  app.add_option("--seed", o.seed, "Seed of the synthetic input")->capture_default_str();
  app.add_flag("--full-messages", o.full_messages,
               "Memory phase: also measure Form Submitted with a messageId and a Segment context");
  app.add_option("--only", o.only, "Phases to run: steps, memory, or both")->capture_default_str();
  app.add_flag("--quick", o.quick, "A small smoke-test run: 20,000 customers, 20,000 waiting, 1 run");
  CLI11_PARSE(app, argc, argv);
  if (o.quick) {
    o.customers = 20'000;
    o.waiting = 20'000;
    o.repetitions = 1;
  }
  if (o.customers < 1 || o.waiting < 1 || o.repetitions < 1 || o.days <= 0 || o.customers > 9'999'999 ||
      o.waiting > 9'999'999 || o.open_rate < 0 || o.reminder_open_rate < 0 || o.open_rate + o.reminder_open_rate > 1 ||
      o.meeting_rate < 0 || o.meeting_rate > 1) {
    std::cerr << "simulation_bench: need 1 <= --customers, --waiting <= 9,999,999, --repetitions >= 1, --days > 0, "
                 "rates in [0, 1] with --open-rate + --reminder-open-rate <= 1\n";
    return 2;
  }
  return tp::bench::run(o);
}
