#include "templates/text.h"

#include <unicode/ucasemap.h>
#include <unicode/utypes.h>

#include <charconv>
#include <cmath>
#include <cstring>

#include "base/json_text.h"

namespace tp::templates::text {

char32_t next_code_point(std::string_view s, size_t& i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = byte(i);
  if (c < 0x80) {
    ++i;
    return c;
  }
  int extra = 0;
  char32_t cp = 0;
  char32_t min = 0;
  if ((c & 0xE0) == 0xC0) {
    extra = 1, cp = c & 0x1F, min = 0x80;
  } else if ((c & 0xF0) == 0xE0) {
    extra = 2, cp = c & 0x0F, min = 0x800;
  } else if ((c & 0xF8) == 0xF0) {
    extra = 3, cp = c & 0x07, min = 0x10000;
  } else {
    ++i;
    return 0xFFFD;
  }
  if (i + extra >= s.size()) {
    ++i;
    return 0xFFFD;
  }
  for (int k = 1; k <= extra; ++k) {
    unsigned char cc = byte(i + k);
    if ((cc & 0xC0) != 0x80) {
      ++i;
      return 0xFFFD;
    }
    cp = (cp << 6) | (cc & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    ++i;
    return 0xFFFD;
  }
  i += extra + 1;
  return cp;
}

size_t code_point_count(std::string_view s) {
  size_t n = 0;
  for (size_t i = 0; i < s.size();) {
    next_code_point(s, i);
    ++n;
  }
  return n;
}

size_t utf16_length(std::string_view s) {
  size_t n = 0;
  for (size_t i = 0; i < s.size();) n += next_code_point(s, i) >= 0x10000 ? 2 : 1;
  return n;
}

size_t advance_code_points(std::string_view s, size_t from, size_t count) {
  size_t i = from;
  for (size_t k = 0; k < count && i < s.size(); ++k) next_code_point(s, i);
  return i;
}

bool valid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t before = i;
    char32_t cp = next_code_point(s, i);
    if (cp == 0xFFFD && i == before + 1) return false;
  }
  return true;
}

bool is_markup_blank(char32_t cp) {
  if (cp < 0x80) return (cp >= 9 && cp <= 13) || cp == ' ';
  return cp == 0xA0 || cp == 0x1680 || cp == 0x180E || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
         cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

bool is_js_space(char32_t cp) {
  if (cp < 0x80) return (cp >= 9 && cp <= 13) || cp == ' ';
  return cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
         cp == 0x205F || cp == 0x3000 || cp == 0xFEFF;
}

bool is_word(char32_t cp) {
  if (cp < 0x80) {
    return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9') || cp == '_' || cp == '-';
  }
  return !is_markup_blank(cp) && cp != 0x201C && cp != 0x201D;
}

namespace {

template <typename Pred>
size_t class_at(std::string_view s, size_t i, Pred pred) {
  if (i >= s.size()) return 0;
  unsigned char c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) return pred(c) ? 1 : 0;
  size_t j = i;
  char32_t cp = next_code_point(s, j);
  return pred(cp) ? j - i : 0;
}

template <typename Pred>
size_t class_before(std::string_view s, size_t i, Pred pred) {
  if (i == 0 || i > s.size()) return 0;
  unsigned char c = static_cast<unsigned char>(s[i - 1]);
  if (c < 0x80) return pred(c) ? 1 : 0;
  // Back up to the lead byte (at most 3 continuation bytes).
  size_t start = i - 1;
  while (start > 0 && i - start < 4 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
  size_t j = start;
  char32_t cp = next_code_point(s, j);
  return (j == i && pred(cp)) ? i - start : 0;
}

}  // namespace

size_t markup_blank_at(std::string_view s, size_t i) { return class_at(s, i, is_markup_blank); }
size_t js_space_at(std::string_view s, size_t i) { return class_at(s, i, is_js_space); }
size_t markup_blank_before(std::string_view s, size_t i) { return class_before(s, i, is_markup_blank); }
size_t js_space_before(std::string_view s, size_t i) { return class_before(s, i, is_js_space); }

std::string_view js_trim_start(std::string_view s) {
  size_t i = 0;
  while (size_t n = js_space_at(s, i)) i += n;
  return s.substr(i);
}

std::string_view js_trim_end(std::string_view s) {
  size_t e = s.size();
  while (size_t n = js_space_before(s, e)) e -= n;
  return s.substr(0, e);
}

std::string_view js_trim(std::string_view s) { return js_trim_end(js_trim_start(s)); }

void append_js_number(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
    return;
  }
  if (v == 0) {
    out.push_back('0');  // also -0
    return;
  }
  if (std::isinf(v)) {
    out += v < 0 ? "-Infinity" : "Infinity";
    return;
  }
  if (v < 0) {
    out.push_back('-');
    v = -v;
  }
  char buf[40];
  if (v < 9007199254740992.0 && v == std::floor(v)) {
    // Exact integers below 2^53 print as themselves.
    auto r = std::to_chars(buf, buf + sizeof buf, static_cast<std::uint64_t>(v));
    out.append(buf, r.ptr);
    return;
  }
  // Shortest round-trip digits, then JavaScript's layout rules (ECMA-262 Number::toString).
  auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  std::string_view sci(buf, static_cast<size_t>(r.ptr - buf));
  size_t e_pos = sci.find('e');
  std::string digits;
  for (size_t i = 0; i < e_pos; ++i)
    if (sci[i] != '.') digits.push_back(sci[i]);
  int exponent = 0;
  std::from_chars(sci.data() + e_pos + (sci[e_pos + 1] == '+' ? 2 : 1), sci.data() + sci.size(), exponent);
  int k = static_cast<int>(digits.size());
  int n = exponent + 1;
  if (k <= n && n <= 21) {
    out += digits;
    out.append(static_cast<size_t>(n - k), '0');
  } else if (0 < n && n <= 21) {
    out.append(digits, 0, static_cast<size_t>(n));
    out.push_back('.');
    out.append(digits, static_cast<size_t>(n));
  } else if (-6 < n && n <= 0) {
    out += "0.";
    out.append(static_cast<size_t>(-n), '0');
    out += digits;
  } else {
    out.push_back(digits[0]);
    if (k > 1) {
      out.push_back('.');
      out.append(digits, 1);
    }
    out.push_back('e');
    out.push_back(n - 1 >= 0 ? '+' : '-');
    out += std::to_string(std::abs(n - 1));
  }
}

std::string js_number(double value) {
  std::string s;
  append_js_number(s, value);
  return s;
}

double js_string_to_number(std::string_view s) {
  s = js_trim(s);
  if (s.empty()) return 0;
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  if (s.size() > 2 && s[0] == '0' && (s[1] | 0x20) != 'e' && !(s[1] >= '0' && s[1] <= '9') && s[1] != '.') {
    int base = 0;
    switch (s[1]) {
      case 'x':
      case 'X':
        base = 16;
        break;
      case 'o':
      case 'O':
        base = 8;
        break;
      case 'b':
      case 'B':
        base = 2;
        break;
      default:
        return kNaN;
    }
    double value = 0;
    for (size_t i = 2; i < s.size(); ++i) {
      char c = s[i];
      int d = (c >= '0' && c <= '9')   ? c - '0'
              : (c >= 'a' && c <= 'f') ? c - 'a' + 10
              : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                       : 99;
      if (d >= base) return kNaN;
      value = value * base + d;
    }
    return value;
  }
  bool negative = false;
  std::string_view body = s;
  if (body[0] == '+' || body[0] == '-') {
    negative = body[0] == '-';
    body.remove_prefix(1);
  }
  if (body == "Infinity")
    return negative ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
  // StrUnsignedDecimalLiteral: digits [. digits] | . digits, then an optional exponent.
  size_t i = 0;
  size_t int_digits = 0, frac_digits = 0;
  while (i < body.size() && body[i] >= '0' && body[i] <= '9') ++i, ++int_digits;
  if (i < body.size() && body[i] == '.') {
    ++i;
    while (i < body.size() && body[i] >= '0' && body[i] <= '9') ++i, ++frac_digits;
  }
  if (int_digits + frac_digits == 0) return kNaN;
  if (i < body.size() && (body[i] == 'e' || body[i] == 'E')) {
    ++i;
    if (i < body.size() && (body[i] == '+' || body[i] == '-')) ++i;
    size_t exp_digits = 0;
    while (i < body.size() && body[i] >= '0' && body[i] <= '9') ++i, ++exp_digits;
    if (exp_digits == 0) return kNaN;
  }
  if (i != body.size()) return kNaN;
  double value = 0;
  auto r = std::from_chars(body.data(), body.data() + body.size(), value);
  if (r.ec == std::errc::result_out_of_range) {
    // from_chars reports overflow/underflow without a value; JavaScript gives Infinity or 0.
    size_t e = body.find_first_of("eE");
    bool tiny = e != std::string_view::npos && e + 1 < body.size() && body[e + 1] == '-';
    value = tiny ? 0.0 : std::numeric_limits<double>::infinity();
  }
  return negative ? -value : value;
}

double js_round(double x) {
  if (!std::isfinite(x)) return x;
  double r = std::floor(x);
  if (x - r >= 0.5) r += 1;
  return r;
}

int js_compare(std::string_view a, std::string_view b) {
  size_t n = std::min(a.size(), b.size());
  size_t d = 0;
  while (d < n && a[d] == b[d]) ++d;
  if (d == n) return a.size() < b.size() ? -1 : a.size() > b.size() ? 1 : 0;
  // Back up to the start of the code point that differs, then compare as UTF-16 units.
  size_t start = d;
  while (start > 0 && (static_cast<unsigned char>(a[start]) & 0xC0) == 0x80) --start;
  size_t ia = start, ib = start;
  char32_t ca = next_code_point(a, ia), cb = next_code_point(b, ib);
  auto first_unit = [](char32_t c) -> std::uint32_t { return c >= 0x10000 ? 0xD800 + ((c - 0x10000) >> 10) : c; };
  auto second_unit = [](char32_t c) -> std::uint32_t { return c >= 0x10000 ? 0xDC00 + ((c - 0x10000) & 0x3FF) : 0; };
  std::uint32_t ua = first_unit(ca), ub = first_unit(cb);
  if (ua != ub) return ua < ub ? -1 : 1;
  ua = second_unit(ca), ub = second_unit(cb);
  if (ua != ub) return ua < ub ? -1 : 1;
  // Same units but different bytes: invalid UTF-8 decoded to U+FFFD; fall back to bytes.
  return static_cast<unsigned char>(a[d]) < static_cast<unsigned char>(b[d]) ? -1 : 1;
}

namespace {

const UCaseMap* root_case_map() {
  static const UCaseMap* map = [] {
    UErrorCode error = U_ZERO_ERROR;
    UCaseMap* m = ucasemap_open("", 0, &error);
    return U_FAILURE(error) ? nullptr : m;
  }();
  return map;
}

bool all_ascii(std::string_view s) {
  for (char c : s)
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  return true;
}

using Utf8CaseFunction = int32_t (*)(const UCaseMap*, char*, int32_t, const char*, int32_t, UErrorCode*);

void append_mapped(std::string& out, std::string_view s, Utf8CaseFunction fn) {
  const UCaseMap* map = root_case_map();
  size_t at = out.size();
  // Case mapping grows a string by at most three times (e.g. U+0390 to three code points).
  out.resize(at + s.size() * 3 + 16);
  UErrorCode error = U_ZERO_ERROR;
  int32_t n = map ? fn(map, out.data() + at, static_cast<int32_t>(out.size() - at), s.data(),
                       static_cast<int32_t>(s.size()), &error)
                  : -1;
  if (n < 0 || U_FAILURE(error)) {
    out.resize(at);
    out.append(s);
    return;
  }
  out.resize(at + static_cast<size_t>(n));
}

}  // namespace

void append_upper(std::string& out, std::string_view s) {
  if (all_ascii(s)) {
    for (char c : s) out.push_back(c >= 'a' && c <= 'z' ? static_cast<char>(c - 32) : c);
    return;
  }
  append_mapped(out, s, ucasemap_utf8ToUpper);
}

void append_lower(std::string& out, std::string_view s) {
  if (all_ascii(s)) {
    for (char c : s) out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c);
    return;
  }
  append_mapped(out, s, ucasemap_utf8ToLower);
}

void append_html_escaped(std::string& out, std::string_view s) {
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const char* rep;
    switch (s[i]) {
      case '&':
        rep = "&amp;";
        break;
      case '<':
        rep = "&lt;";
        break;
      case '>':
        rep = "&gt;";
        break;
      case '"':
        rep = "&#34;";
        break;
      case '\'':
        rep = "&#39;";
        break;
      default:
        continue;
    }
    out.append(s.data() + start, i - start);
    out += rep;
    start = i + 1;
  }
  out.append(s.data() + start, s.size() - start);
}

void append_json_escaped(std::string& out, std::string_view s) {
  size_t at = out.size();
  append_json_string(out, s);
  // Drop the quotes append_json_string adds.
  out.erase(at, 1);
  out.pop_back();
}

}  // namespace tp::templates::text
