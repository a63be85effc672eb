#include "base/log.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "base/clock.h"
#include "base/json_text.h"
#include "base/time_format.h"

namespace tp::log {
namespace {

Level initial_level() {
  const char* env = std::getenv("TOUCHPOINT_LOG");
  if (env == nullptr) return Level::kInfo;
  if (std::strcmp(env, "debug") == 0) return Level::kDebug;
  if (std::strcmp(env, "warn") == 0) return Level::kWarn;
  if (std::strcmp(env, "error") == 0) return Level::kError;
  return Level::kInfo;
}

std::atomic<Level> g_min_level{initial_level()};

const char* level_name(Level l) {
  switch (l) {
    case Level::kDebug: return "debug";
    case Level::kInfo: return "info";
    case Level::kWarn: return "warn";
    case Level::kError: return "error";
  }
  return "info";
}

}  // namespace

void set_min_level(Level level) { g_min_level = level; }

void write(Level level, std::string_view message, std::initializer_list<Field> fields) {
  if (level < g_min_level.load()) return;
  std::string line = "{\"ts\":\"";
  append_iso8601(line, SystemClock().now());
  line += "\",\"level\":\"";
  line += level_name(level);
  line += "\",\"msg\":";
  append_json_string(line, message);
  for (const auto& [key, value] : fields) {
    line.push_back(',');
    append_json_string(line, key);
    line.push_back(':');
    append_json_string(line, value);
  }
  line += "}\n";
  std::fwrite(line.data(), 1, line.size(), stderr);  // one write: lines never interleave
}

}  // namespace tp::log
