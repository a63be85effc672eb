// Structured logs: one JSON object per line on stderr.
//
// Policy: no personal data in logs. Never pass user ids, anonymous ids, traits, properties,
// addresses or keys as fields; log counts, routes, codes, durations and internal ids only.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace tp::log {

enum class Level { kDebug, kInfo, kWarn, kError };

// A field's value is printed as a JSON string.
using Field = std::pair<std::string_view, std::string>;

void write(Level level, std::string_view message, std::initializer_list<Field> fields = {});
inline void info(std::string_view m, std::initializer_list<Field> f = {}) { write(Level::kInfo, m, f); }
inline void warn(std::string_view m, std::initializer_list<Field> f = {}) { write(Level::kWarn, m, f); }
inline void error(std::string_view m, std::initializer_list<Field> f = {}) { write(Level::kError, m, f); }

// Messages below `level` are dropped. Default kInfo; env TOUCHPOINT_LOG=debug|info|warn|error.
void set_min_level(Level level);

}  // namespace tp::log
