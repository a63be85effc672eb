#include "delivery/config.h"

#include "base/config_reader.h"
#include "base/file.h"

namespace tp::delivery {

Result<Options> parse_delivery_config(const std::string& file, const std::string& text) {
  TP_ASSIGN(YAML::Node n, config_section(file, text, "delivery"));
  Options o;
  if (!n) return o;
  ConfigReader r(file, process_environment);
  const std::string p = "delivery";
  if (r.mapping(n, p, {"workers", "batch", "max_attempts", "backoff", "breaker", "rate_limit"})) {
    r.integer(n, p, "workers", o.workers, 1, 64);
    r.integer(n, p, "batch", o.batch, 1, 10000);
    r.integer(n, p, "max_attempts", o.max_attempts, 1, 100);
    constexpr auto kWeek = std::chrono::hours(24 * 7);
    if (YAML::Node b = n["backoff"]; b && r.mapping(b, p + ".backoff", {"first", "max"})) {
      r.duration(b, p + ".backoff", "first", o.first_backoff, kWeek);
      r.duration(b, p + ".backoff", "max", o.max_backoff, kWeek);
      if (o.max_backoff < o.first_backoff)
        r.problem(b.Mark(), p + ".backoff.max", "must not be shorter than backoff.first");
    }
    if (YAML::Node b = n["breaker"]; b && r.mapping(b, p + ".breaker", {"failures", "cooldown"})) {
      r.integer(b, p + ".breaker", "failures", o.breaker_failures, 1, 1000);
      r.duration(b, p + ".breaker", "cooldown", o.breaker_cooldown, std::chrono::hours(24));
    }
    if (YAML::Node rl = n["rate_limit"]; rl && r.mapping(rl, p + ".rate_limit", {"email", "sms", "webhook"})) {
      for (const char* channel : {"email", "sms", "webhook"}) {
        double rate = 0;
        r.positive_number(rl, p + ".rate_limit", channel, rate, 1e6);
        if (rate > 0) o.rate_per_second[channel] = rate;
      }
    }
  }
  TP_TRY(r.status());
  return o;
}

Result<Options> load_delivery_config(const std::string& path) {
  TP_ASSIGN(std::string text, read_file(path));
  return parse_delivery_config(path, text);
}

}  // namespace tp::delivery
