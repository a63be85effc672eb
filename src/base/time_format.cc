#include "base/time_format.h"

#include <cstdio>

namespace tp {
namespace {

// Reads exactly n digits at s[pos..]; advances pos.
bool digits(std::string_view s, size_t& pos, int n, int& out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (int i = 0; i < n; ++i) {
    char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  pos += n;
  out = v;
  return true;
}

bool expect(std::string_view s, size_t& pos, char c) {
  if (pos < s.size() && s[pos] == c) {
    ++pos;
    return true;
  }
  return false;
}

}  // namespace

std::optional<Timestamp> parse_iso8601(std::string_view s) {
  using namespace std::chrono;
  size_t pos = 0;
  int y, mo, d;
  if (!digits(s, pos, 4, y) || !expect(s, pos, '-') || !digits(s, pos, 2, mo) ||
      !expect(s, pos, '-') || !digits(s, pos, 2, d))
    return std::nullopt;
  year_month_day ymd{year(y), month(static_cast<unsigned>(mo)), day(static_cast<unsigned>(d))};
  if (!ymd.ok()) return std::nullopt;
  Timestamp t = time_point_cast<Millis>(sys_days(ymd));
  if (pos == s.size()) return t;
  if (s[pos] != 'T' && s[pos] != 't' && s[pos] != ' ') return std::nullopt;
  ++pos;
  int h, mi, sec = 0;
  if (!digits(s, pos, 2, h) || !expect(s, pos, ':') || !digits(s, pos, 2, mi)) return std::nullopt;
  if (expect(s, pos, ':') && !digits(s, pos, 2, sec)) return std::nullopt;
  if (h > 23 || mi > 59 || sec > 60) return std::nullopt;
  long long ms = 0;
  if (expect(s, pos, '.') || (pos < s.size() && s[pos] == ',' && ++pos)) {
    int n = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (n < 3) ms = ms * 10 + (s[pos] - '0');
      ++n;
      ++pos;
    }
    if (n == 0) return std::nullopt;
    for (int i = n; i < 3; ++i) ms *= 10;
  }
  t += hours(h) + minutes(mi) + seconds(sec) + Millis(ms);
  if (pos >= s.size()) return std::nullopt;  // a time needs a zone designator
  if (s[pos] == 'Z' || s[pos] == 'z') {
    ++pos;
  } else if (s[pos] == '+' || s[pos] == '-') {
    int sign = s[pos] == '+' ? 1 : -1;
    ++pos;
    int oh, om = 0;
    if (!digits(s, pos, 2, oh)) return std::nullopt;
    if (expect(s, pos, ':')) {
      if (!digits(s, pos, 2, om)) return std::nullopt;
    } else if (pos < s.size() && !digits(s, pos, 2, om)) {
      return std::nullopt;
    }
    if (oh > 23 || om > 59) return std::nullopt;
    t -= sign * (hours(oh) + minutes(om));
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  return t;
}

void append_iso8601(std::string& out, Timestamp t) {
  using namespace std::chrono;
  auto day_point = floor<days>(t);
  year_month_day ymd{day_point};
  hh_mm_ss<Millis> hms{t - day_point};
  int year = int(ymd.year());
  if (year < 0 || year > 9999) {  // outside ISO-8601's four digits: the slow, general path
    char buf[48];
    int n = std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", year, unsigned(ymd.month()),
                          unsigned(ymd.day()), int(hms.hours().count()), int(hms.minutes().count()),
                          int(hms.seconds().count()), int(hms.subseconds().count()));
    out.append(buf, static_cast<size_t>(n));
    return;
  }
  // Digits by hand: this runs for every timestamp written (timelines, simulation lines), and
  // snprintf was most of its cost.
  char buf[25] = "0000-00-00T00:00:00.000Z";
  auto put = [&](int at, int width, unsigned v) {
    for (int i = at + width - 1; i >= at; --i, v /= 10) buf[i] = static_cast<char>('0' + v % 10);
  };
  put(0, 4, static_cast<unsigned>(year));
  put(5, 2, unsigned(ymd.month()));
  put(8, 2, unsigned(ymd.day()));
  put(11, 2, static_cast<unsigned>(hms.hours().count()));
  put(14, 2, static_cast<unsigned>(hms.minutes().count()));
  put(17, 2, static_cast<unsigned>(hms.seconds().count()));
  put(20, 3, static_cast<unsigned>(hms.subseconds().count()));
  out.append(buf, 24);
}

std::string format_iso8601(Timestamp t) {
  std::string s;
  append_iso8601(s, t);
  return s;
}

}  // namespace tp
