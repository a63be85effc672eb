// Dates for the date filters: reading an input as liquidjs does (ISO-8601 strings, unix seconds,
// "now"/"today") and formatting with liquidjs' strftime in a time zone. Internal to src/templates.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace tp::templates::dates {

// Milliseconds since the epoch of an ISO-8601 text as JavaScript's Date reads the forms below;
// nullopt otherwise. Forms: YYYY, YYYY-MM, YYYY-MM-DD (also with a one-digit month or day),
// optionally followed by T or a space and HH:mm[:ss[.fraction]] and Z or ±HH:mm or ±HHmm.
// Without a zone the time is UTC. As in V8, a day up to 31 rolls over into the next month and
// 24:00 is the next midnight.
std::optional<double> parse_iso(std::string_view text);

// A moment shown in a zone: `ms` since the epoch, `offset_minutes` east of UTC, and the zone's
// name for %Z (empty for a bare offset).
struct Moment {
  double ms = 0;
  double offset_minutes = 0;
  std::string_view zone_name;
};

// Whether a moment can be shown (JavaScript's Date range, and years the calendar code handles).
bool in_range(double ms);

// liquidjs' strftime: %a %A %b %B %c %C %d %e %H %I %j %k %l %L %m %M %N %p %P %q %s %S %u %U
// %w %W %x %X %y %Y %z %Z %t %n %%, flags - _ 0 ^ # :, widths; en-US names and formats.
// Unknown conversions are copied as written.
void strftime(std::string& out, const Moment& m, std::string_view format);

// The default format of `date` without one.
inline constexpr std::string_view kDefaultFormat = "%A, %B %-e, %Y at %-l:%M %P %z";

}  // namespace tp::templates::dates
