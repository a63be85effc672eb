#include "templates/dates.h"

#include <date/date.h>

#include <array>
#include <cmath>

#include "templates/text.h"

namespace tp::templates::dates {
namespace {

constexpr double kMsPerDay = 86400000.0;
constexpr double kMaxMs = 8.64e15;       // JavaScript's Date range
constexpr double kMaxDays = 10'000'000;  // about ±27000 years: what date::year can hold

constexpr std::array<std::string_view, 12> kMonths = {"January",   "February", "March",    "April",
                                                      "May",       "June",     "July",     "August",
                                                      "September", "October",  "November", "December"};
constexpr std::array<std::string_view, 7> kDays = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                                   "Thursday", "Friday", "Saturday"};

double days_from_civil(int y, unsigned m) {
  auto d = date::sys_days(date::year{y} / date::month{m} / date::day{1});
  return static_cast<double>(d.time_since_epoch().count());
}

// The calendar fields of a displayed time (already shifted into its zone).
struct Fields {
  int year;
  int month;  // 1-12
  int day;    // 1-31
  int hour, minute, second, millisecond;
  int weekday;      // 0 = Sunday
  int day_of_year;  // 1-366
};

Fields fields(double display_ms) {
  double days = std::floor(display_ms / kMsPerDay);
  double in_day = display_ms - days * kMsPerDay;
  date::year_month_day ymd{date::sys_days{date::days{static_cast<int>(days)}}};
  Fields f{};
  f.year = static_cast<int>(ymd.year());
  f.month = static_cast<int>(static_cast<unsigned>(ymd.month()));
  f.day = static_cast<int>(static_cast<unsigned>(ymd.day()));
  auto ms = static_cast<std::int64_t>(in_day);
  f.hour = static_cast<int>(ms / 3600000);
  f.minute = static_cast<int>(ms / 60000 % 60);
  f.second = static_cast<int>(ms / 1000 % 60);
  f.millisecond = static_cast<int>(ms % 1000);
  auto d = static_cast<std::int64_t>(days);
  f.weekday = static_cast<int>(((d % 7) + 7 + 4) % 7);  // 1970-01-01 was a Thursday
  f.day_of_year = static_cast<int>(days - days_from_civil(f.year, 1)) + 1;
  return f;
}

bool digits(std::string_view s, size_t& i, size_t min, size_t max, int& value) {
  size_t n = 0;
  value = 0;
  while (i < s.size() && n < max && s[i] >= '0' && s[i] <= '9') {
    value = value * 10 + (s[i] - '0');
    ++i, ++n;
  }
  return n >= min;
}

std::string pad_start(std::string s, size_t width, char c) {
  size_t len = text::utf16_length(s);
  if (len >= width) return s;
  return std::string(width - len, c) + s;
}

}  // namespace

bool in_range(double ms) { return std::isfinite(ms) && std::abs(ms) <= kMaxMs && std::abs(ms / kMsPerDay) < kMaxDays; }

std::optional<double> parse_iso(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n' || s.front() == '\r'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r'))
    s.remove_suffix(1);
  size_t i = 0;
  int year = 0, month = 1, day = 1, hour = 0, minute = 0, second = 0;
  double fraction_ms = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    bool negative = s[i++] == '-';
    size_t start = i;
    if (!digits(s, i, 6, 6, year) || i - start != 6) return std::nullopt;
    if (negative) {
      if (year == 0) return std::nullopt;
      year = -year;
    }
  } else if (!digits(s, i, 4, 4, year)) {
    return std::nullopt;
  }
  if (i < s.size() && s[i] == '-') {
    ++i;
    if (!digits(s, i, 1, 2, month)) return std::nullopt;
    if (i < s.size() && s[i] == '-') {
      ++i;
      if (!digits(s, i, 1, 2, day)) return std::nullopt;
    }
  }
  if (month < 1 || month > 12 || day < 1 || day > 31) return std::nullopt;
  if (i < s.size() && (s[i] == 'T' || s[i] == 't' || s[i] == ' ')) {
    ++i;
    if (!digits(s, i, 2, 2, hour)) return std::nullopt;
    if (i >= s.size() || s[i] != ':') return std::nullopt;
    ++i;
    if (!digits(s, i, 2, 2, minute)) return std::nullopt;
    if (i < s.size() && s[i] == ':') {
      ++i;
      if (!digits(s, i, 2, 2, second)) return std::nullopt;
      if (i < s.size() && s[i] == '.') {
        ++i;
        size_t start = i;
        double scale = 100;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
          if (scale >= 1) fraction_ms += (s[i] - '0') * scale;
          scale /= 10;
          ++i;
        }
        if (i == start) return std::nullopt;
      }
    }
    if (hour > 24 || minute > 59 || second > 59) return std::nullopt;
    if (hour == 24 && (minute || second || fraction_ms)) return std::nullopt;
  }
  double offset_minutes = 0;
  if (i < s.size()) {
    if (s[i] == 'Z' || s[i] == 'z') {
      ++i;
    } else if (s[i] == '+' || s[i] == '-') {
      int sign = s[i++] == '-' ? -1 : 1;
      int oh = 0, om = 0;
      if (!digits(s, i, 2, 2, oh)) return std::nullopt;
      if (i < s.size() && s[i] == ':') ++i;
      if (!digits(s, i, 2, 2, om)) return std::nullopt;
      if (oh > 23 || om > 59) return std::nullopt;
      offset_minutes = sign * (oh * 60 + om);
    }
    if (i != s.size()) return std::nullopt;
  }
  if (year < -30000 || year > 30000) return std::nullopt;
  double days = days_from_civil(year, static_cast<unsigned>(month)) + (day - 1);
  double ms =
      days * kMsPerDay + hour * 3600000.0 + minute * 60000.0 + second * 1000.0 + fraction_ms - offset_minutes * 60000.0;
  if (!in_range(ms)) return std::nullopt;
  return ms;
}

void strftime(std::string& out, const Moment& m, std::string_view format) {
  double display = m.ms + m.offset_minutes * 60000.0;
  Fields f = fields(display);
  auto num = [](double d) { return text::js_number(d); };
  auto offset_text = [&](bool colon) {
    // As JavaScript's getTimezoneOffset: minutes behind UTC.
    double tz = -m.offset_minutes;
    double n = std::abs(tz);
    auto h = static_cast<int>(std::floor(n / 60));
    auto mm = static_cast<int>(std::fmod(n, 60));
    std::string s(tz > 0 ? "-" : "+");
    s += pad_start(std::to_string(h), 2, '0');
    if (colon) s += ':';
    s += pad_start(std::to_string(mm), 2, '0');
    return s;
  };
  auto week_of_year = [&](int start_day) {
    int since = (f.weekday - start_day + 7) % 7;
    return std::to_string((f.day_of_year - 1 - since + 7) / 7);
  };
  int hour12 = f.hour % 12 == 0 ? 12 : f.hour % 12;
  auto time_text = [&] {
    return std::to_string(hour12) + ":" + pad_start(std::to_string(f.minute), 2, '0') + ":" +
           pad_start(std::to_string(f.second), 2, '0') + (f.hour < 12 ? " AM" : " PM");
  };
  auto date_text = [&] { return std::to_string(f.month) + "/" + std::to_string(f.day) + "/" + std::to_string(f.year); };

  size_t i = 0;
  while (i < format.size()) {
    size_t pct = format.find('%', i);
    if (pct == std::string_view::npos) {
      out.append(format.substr(i));
      return;
    }
    out.append(format.substr(i, pct - i));
    // %([-_0^#:]+)?(\d+)?([EO])?(.)
    size_t j = pct + 1;
    std::string_view flags;
    size_t fs = j;
    while (j < format.size() && std::string_view("-_0^#:").find(format[j]) != std::string_view::npos) ++j;
    flags = format.substr(fs, j - fs);
    size_t ws = j;
    while (j < format.size() && format[j] >= '0' && format[j] <= '9') ++j;
    std::string_view width = format.substr(ws, j - ws);
    if (j < format.size() && (format[j] == 'E' || format[j] == 'O')) ++j;
    bool has_conversion = j < format.size() && format[j] != '\n' && format[j] != '\r';
    if (has_conversion && static_cast<unsigned char>(format[j]) >= 0x80) {
      // U+2028 and U+2029 end a regular expression's "." too.
      size_t k = j;
      char32_t cp = text::next_code_point(format, k);
      if (cp == 0x2028 || cp == 0x2029) has_conversion = false;
    }
    if (!has_conversion) {
      // The regular expression backtracks to match shorter; either way what it took is copied.
      out.append(format.substr(pct, j - pct));
      i = j;
      continue;
    }
    char conversion = format[j];
    size_t match_end = j + 1;
    if (static_cast<unsigned char>(conversion) >= 0x80) {
      size_t k = j;
      text::next_code_point(format, k);
      match_end = k;
    }
    auto has_flag = [&](char c) { return flags.find(c) != std::string_view::npos; };
    std::string value;
    bool known = true;
    switch (conversion) {
      case 'a':
        value = std::string(kDays[static_cast<size_t>(f.weekday)].substr(0, 3));
        break;
      case 'A':
        value = std::string(kDays[static_cast<size_t>(f.weekday)]);
        break;
      case 'b':
      case 'h':
        value = std::string(kMonths[static_cast<size_t>(f.month - 1)].substr(0, 3));
        break;
      case 'B':
        value = std::string(kMonths[static_cast<size_t>(f.month - 1)]);
        break;
      case 'c':
        value = date_text() + ", " + time_text();
        break;
      case 'C':
        value = num(std::floor(f.year / 100.0));
        break;
      case 'd':
      case 'e':
        value = std::to_string(f.day);
        break;
      case 'H':
      case 'k':
        value = std::to_string(f.hour);
        break;
      case 'I':
      case 'l':
        value = std::to_string(hour12);
        break;
      case 'j':
        value = std::to_string(f.day_of_year);
        break;
      case 'L':
        value = std::to_string(f.millisecond);
        break;
      case 'm':
        value = std::to_string(f.month);
        break;
      case 'M':
        value = std::to_string(f.minute);
        break;
      case 'N': {
        double w = width.empty() ? 0 : text::js_string_to_number(width);
        size_t n = w > 0 ? static_cast<size_t>(std::min(w, 1000.0)) : 9;
        std::string ms = pad_start(std::to_string(f.millisecond), 3, '0').substr(0, n);
        ms.append(n - ms.size(), '0');
        value = ms;
        break;
      }
      case 'p':
        value = f.hour < 12 ? "AM" : "PM";
        break;
      case 'P':
        value = f.hour < 12 ? "am" : "pm";
        break;
      case 'q': {
        int d = f.day;
        value = (d == 11 || d == 12 || d == 13) ? "th"
                : d % 10 == 1                   ? "st"
                : d % 10 == 2                   ? "nd"
                : d % 10 == 3                   ? "rd"
                                                : "th";
        break;
      }
      case 's':
        value = num(std::floor(m.ms / 1000));
        break;
      case 'S':
        value = std::to_string(f.second);
        break;
      case 'u':
        value = std::to_string(f.weekday == 0 ? 7 : f.weekday);
        break;
      case 'U':
        value = week_of_year(0);
        break;
      case 'w':
        value = std::to_string(f.weekday);
        break;
      case 'W':
        value = week_of_year(1);
        break;
      case 'x':
        value = date_text();
        break;
      case 'X':
        value = time_text();
        break;
      case 'y':
        value = std::to_string(((f.year % 100) + 100) % 100);
        break;
      case 'Y':
        value = std::to_string(f.year);
        break;
      case 'z':
        value = offset_text(has_flag(':'));
        break;
      case 'Z':
        value = m.zone_name.empty() ? offset_text(has_flag(':')) : std::string(m.zone_name);
        break;
      case 't':
        value = "\t";
        break;
      case 'n':
        value = "\n";
        break;
      case '%':
        value = "%";
        break;
      default:
        known = false;
    }
    if (!known) {
      out.append(format.substr(pct, match_end - pct));
      i = match_end;
      continue;
    }
    static constexpr std::string_view kSpacePadded = "aAbBceklpP";
    char pad = kSpacePadded.find(conversion) != std::string_view::npos ? ' ' : '0';
    size_t pad_width = 0;
    if (!width.empty()) {
      double w = text::js_string_to_number(width);
      pad_width = w > 0 ? static_cast<size_t>(std::min(w, 1000.0)) : 0;
    }
    if (pad_width == 0) {
      switch (conversion) {
        case 'C':
        case 'd':
        case 'e':
        case 'H':
        case 'I':
        case 'k':
        case 'l':
        case 'm':
        case 'M':
        case 'S':
        case 'U':
        case 'W':
        case 'y':
          pad_width = 2;
          break;
        case 'j':
        case 'L':
          pad_width = 3;
          break;
        case 'Y':
          pad_width = 4;
          break;
        default:
          break;
      }
    }
    if (has_flag('^')) {
      std::string upper;
      text::append_upper(upper, value);
      value = upper;
    } else if (has_flag('#')) {
      bool has_lower = false;
      for (char c : value) has_lower |= (c >= 'a' && c <= 'z');
      std::string changed;
      if (has_lower)
        text::append_upper(changed, value);
      else
        text::append_lower(changed, value);
      value = changed;
    }
    if (has_flag('_'))
      pad = ' ';
    else if (has_flag('0'))
      pad = '0';
    if (has_flag('-')) pad_width = 0;
    if (pad == '0' && !value.empty() && value[0] == '-') {
      out.push_back('-');
      out += pad_start(value.substr(1), pad_width > 0 ? pad_width - 1 : 0, '0');
    } else {
      out += pad_start(value, pad_width, pad);
    }
    i = match_end;
  }
}

}  // namespace tp::templates::dates
