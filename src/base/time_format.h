// ISO-8601 / RFC 3339 timestamps as Segment sends them, to and from Timestamp (ms, UTC).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/clock.h"

namespace tp {

// Parses "2026-11-24T08:59:06Z", "...06.123456+01:00", "2026-11-24 08:59:06Z" and a bare date
// "2026-11-24" (midnight UTC). Fractions beyond milliseconds are truncated. Returns nullopt for
// anything else, including impossible dates (Feb 30) and a missing zone designator on a time.
std::optional<Timestamp> parse_iso8601(std::string_view text);

// Formats as "2026-11-24T08:59:06.123Z".
std::string format_iso8601(Timestamp t);
void append_iso8601(std::string& out, Timestamp t);

}  // namespace tp
