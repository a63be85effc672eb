// The filters, each as liquidjs 10.30 defines it (JavaScript conversions included), plus money.
// Inputs and arguments arrive with nil/empty/blank already converted to plain values unless the
// filter keeps literals (default, json, where & co compare against them). Every filter charges
// the work it does to the render's budget.
#include <fmt/format.h>
#include <unicode/uchar.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <unordered_set>

#include "base/crypto.h"
#include "templates/dates.h"
#include "templates/render.h"
#include "templates/text.h"

namespace tp::templates {
namespace {

using Args = std::span<const Value>;

Value arg(Args a, size_t i) { return i < a.size() ? a[i] : Value::undefined(); }

// The input as a string (stringify), charging its length.
std::string_view input_text(Renderer& r, const Value& v, std::string& scratch) {
  std::string_view s = js::string_view_of(v, scratch);
  r.charge(s.size() + 1);
  return s;
}

Value result(Renderer& r, std::string&& s) { return r.keep(std::move(s)); }

// liquidjs' toArray: nil -> [], an array as it is, anything else [it].
Value to_array(Renderer& r, const Value& v) {
  if (v.is_array()) return v;
  ArrayData* a = r.arena().new_array();
  if (!v.is_nil()) a->push_back(v);
  return Value::array(a);
}

ArrayData* new_array(Renderer& r, size_t reserve) {
  ArrayData* a = r.arena().new_array();
  a->reserve(reserve);
  r.arena().charge(reserve * sizeof(Value));
  r.charge(reserve + 1);
  return a;
}

// Reads item.a.b for the dotted property arguments of map, sort, sort_natural and sum.
Value dotted(Renderer& r, Value item, std::string_view path) {
  size_t start = 0;
  while (true) {
    size_t dot = path.find('.', start);
    std::string_view key = path.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    item = js::read_property(item, key, r.arena());
    if (dot == std::string_view::npos) return item;
    start = dot + 1;
  }
}

// A property path for where/group_by/has/find ("a.b", "a[0]", "a['b']"), read from the item.
struct ScopePath {
  std::vector<std::string> keys;
  std::vector<bool> is_index;
  bool ok = false;
};

ScopePath scope_path(Renderer& r, const Value& property) {
  ScopePath p;
  std::string scratch;
  std::string_view text = js::string_view_of(js::to_value(property, r.arena()), scratch);
  p.ok = parse_property_path(text, p.keys, p.is_index);
  if (!p.ok) r.fail(StatusCode::kInvalidArgument, fmt::format("bad property path \"{}\"", text));
  return p;
}

Value read_scope_path(Renderer& r, const Value& item, const ScopePath& p) {
  Value v = item;
  for (size_t i = 0; i < p.keys.size(); ++i) {
    if (p.is_index[i])
      v = js::read_property(v, Value::number(text::js_string_to_number(p.keys[i])), r.arena());
    else
      v = js::read_property(v, p.keys[i], r.arena());
    if (i == 0 && item.is_nil()) v = Value::undefined();
  }
  return v;
}

// where/has/find: with an expected value, ==; without, Liquid truthiness.
bool matches(Renderer& r, const Value& value, Args a, size_t expected_index) {
  if (a.size() <= expected_index || a[expected_index].kind() == Kind::kUndefined)
    return js::liquid_truthy(js::to_value(value, r.arena()));
  return js::equals(value, a[expected_index]);
}

// ---- html ----

Value f_escape(Renderer& r, const Value& in, Args, const FilterCall&) {
  std::string scratch, out;
  text::append_html_escaped(out, input_text(r, in, scratch));
  return result(r, std::move(out));
}

std::string unescape_html(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    if (s[i] == '&') {
      static constexpr std::pair<std::string_view, char> kEntities[] = {
          {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&#34;", '"'}, {"&#39;", '\''}};
      bool done = false;
      for (const auto& [entity, c] : kEntities) {
        if (s.compare(i, entity.size(), entity) == 0) {
          out.push_back(c);
          i += entity.size();
          done = true;
          break;
        }
      }
      if (done) continue;
    }
    out.push_back(s[i++]);
  }
  return out;
}

Value f_escape_once(Renderer& r, const Value& in, Args, const FilterCall&) {
  std::string scratch, out;
  text::append_html_escaped(out, unescape_html(input_text(r, in, scratch)));
  return result(r, std::move(out));
}

Value f_newline_to_br(Renderer& r, const Value& in, Args, const FilterCall&) {
  std::string scratch, out;
  std::string_view s = input_text(r, in, scratch);
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') continue;
    if (s[i] == '\n')
      out += "<br />\n";
    else
      out.push_back(s[i]);
  }
  return result(r, std::move(out));
}

Value f_strip_newlines(Renderer& r, const Value& in, Args, const FilterCall&) {
  std::string scratch, out;
  std::string_view s = input_text(r, in, scratch);
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') continue;
    if (s[i] != '\n') out.push_back(s[i]);
  }
  return result(r, std::move(out));
}

Value f_strip_html(Renderer& r, const Value& in, Args, const FilterCall&) {
  std::string scratch, out;
  std::string_view s = input_text(r, in, scratch);
  // Script and style elements and comments go whole; any other <...> goes as a tag. An opener
  // without its closer is never tried again (liquidjs' linear-time version).
  std::vector<std::pair<std::string_view, std::string_view>> blocks = {
      {"<script", "</script>"}, {"<style", "</style>"}, {"<!--", "-->"}, {"<", ">"}};
  size_t i = 0;
  while (i < s.size()) {
    size_t lt = s.find('<', i);
    if (lt == std::string_view::npos) {
      out.append(s.substr(i));
      return result(r, std::move(out));
    }
    out.append(s.substr(i, lt - i));
    for (size_t b = 0; b < blocks.size();) {
      auto [opener, closer] = blocks[b];
      if (s.compare(lt, opener.size(), opener) != 0) {
        ++b;
        continue;
      }
      size_t e = s.find(closer, lt + opener.size());
      if (e != std::string_view::npos) {
        i = e + closer.size();
        break;
      }
      blocks.erase(blocks.begin() + static_cast<std::ptrdiff_t>(b));
    }
    if (i <= lt) {
      out.append(s.substr(lt));
      return result(r, std::move(out));
    }
  }
  return result(r, std::move(out));
}

// ---- math ----

double num(const Value& v) { return js::to_liquid_number(v); }

Value f_abs(Renderer&, const Value& in, Args, const FilterCall&) { return Value::number(std::fabs(num(in))); }
Value f_ceil(Renderer&, const Value& in, Args, const FilterCall&) { return Value::number(std::ceil(num(in))); }
Value f_floor(Renderer&, const Value& in, Args, const FilterCall&) { return Value::number(std::floor(num(in))); }
Value f_at_least(Renderer&, const Value& in, Args a, const FilterCall&) {
  return Value::number(std::max(num(in), num(a[0])));
}
Value f_at_most(Renderer&, const Value& in, Args a, const FilterCall&) {
  return Value::number(std::min(num(in), num(a[0])));
}
Value f_plus(Renderer&, const Value& in, Args a, const FilterCall&) { return Value::number(num(in) + num(a[0])); }
Value f_minus(Renderer&, const Value& in, Args a, const FilterCall&) { return Value::number(num(in) - num(a[0])); }
Value f_times(Renderer&, const Value& in, Args a, const FilterCall&) { return Value::number(num(in) * num(a[0])); }
Value f_divided_by(Renderer&, const Value& in, Args a, const FilterCall&) {
  double q = num(in) / num(a[0]);
  if (a.size() > 1 && num(a[1]) != 0) q = std::floor(q);
  return Value::number(q);
}
Value f_modulo(Renderer&, const Value& in, Args a, const FilterCall&) {
  double d = num(a[0]);
  return Value::number(std::fmod(std::fmod(num(in), d) + d, d));
}

// liquidjs' shiftDecimal: moves the decimal point by rewriting the number's exponent in text.
double shift_decimal(double n, double exponent) {
  std::string s = text::js_number(n);
  size_t e = s.find('e');
  std::string mantissa = s.substr(0, e);
  double power = e == std::string::npos ? 0 : text::js_string_to_number(s.substr(e + 1));
  return text::js_string_to_number(mantissa + "e" + text::js_number(power + exponent));
}

double liquid_round(double v, double places) {
  double scaled = shift_decimal(std::fabs(v), places);
  if (!(scaled <= 9007199254740991.0)) return v;
  double rounded = shift_decimal(text::js_round(scaled), -places);
  return v < 0 ? -rounded : rounded;
}

Value f_round(Renderer&, const Value& in, Args a, const FilterCall&) {
  return Value::number(liquid_round(num(in), a.empty() ? 0 : num(a[0])));
}

// money: two decimals (rounded half away from zero as the number is written), a comma every
// three digits, and the currency after a space when one is given: 1234.5 | money: "EUR" ->
// "1,234.50 EUR". What is not a finite number below 10^13 renders as nothing.
Value f_money(Renderer& r, const Value& in, Args a, const FilterCall&) {
  double n;
  if (in.kind() == Kind::kNumber) {
    n = in.as_number();
  } else if (in.kind() == Kind::kString && !text::js_trim(in.as_string()).empty()) {
    n = text::js_string_to_number(in.as_string());
  } else {
    return Value::string("");
  }
  if (!std::isfinite(n) || std::fabs(n) >= 1e13) return Value::string("");
  double rounded = liquid_round(n, 2);
  auto cents = static_cast<std::int64_t>(text::js_round(std::fabs(rounded) * 100));
  std::string digits = std::to_string(cents / 100);
  std::string out;
  if (rounded < 0 && cents != 0) out.push_back('-');
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  fmt::format_to(std::back_inserter(out), ".{:02}", cents % 100);
  if (!a.empty()) {
    std::string currency = js::stringify(a[0]);
    if (!currency.empty()) out += " " + currency;
  }
  return result(r, std::move(out));
}

// ---- url ----

bool uri_unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
         c == '.' || c == '!' || c == '~' || c == '*' || c == '\'' || c == '(' || c == ')';
}

std::string percent_encode(std::string_view s, bool (*keep)(unsigned char)) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (keep(c)) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

Value f_url_encode(Renderer& r, const Value& in, Args, const FilterCall&) {
  std::string scratch;
  std::string out = percent_encode(input_text(r, in, scratch), [](unsigned char c) { return uri_unreserved(c); });
  std::string plus;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out.compare(i, 3, "%20") == 0) {
      plus.push_back('+');
      i += 2;
    } else {
      plus.push_back(out[i]);
    }
  }
  return result(r, std::move(plus));
}

Value f_cgi_escape(Renderer& r, const Value& in, Args, const FilterCall&) {
  std::string scratch;
  std::string out = percent_encode(input_text(r, in, scratch), [](unsigned char c) {
    return uri_unreserved(c) && c != '!' && c != '\'' && c != '(' && c != ')' && c != '*';
  });
  std::string plus;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out.compare(i, 3, "%20") == 0) {
      plus.push_back('+');
      i += 2;
    } else {
      plus.push_back(out[i]);
    }
  }
  return result(r, std::move(plus));
}

Value f_uri_escape(Renderer& r, const Value& in, Args, const FilterCall&) {
  std::string scratch;
  return result(r, percent_encode(input_text(r, in, scratch), [](unsigned char c) {
                  return uri_unreserved(c) ||
                         std::string_view(";/?:@&=+$,#[]").find(static_cast<char>(c)) != std::string_view::npos;
                }));
}

Value f_url_decode(Renderer& r, const Value& in, Args, const FilterCall&) {
  std::string scratch;
  std::string_view s = input_text(r, in, scratch);
  std::string bytes;
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      bytes.push_back(' ');
    } else if (s[i] == '%') {
      int h = i + 2 < s.size() ? hex(s[i + 1]) : -1;
      int l = i + 2 < s.size() ? hex(s[i + 2]) : -1;
      if (h < 0 || l < 0) {
        r.fail(StatusCode::kInvalidArgument, "url_decode: malformed %-escape in the input");
        return Value::undefined();
      }
      bytes.push_back(static_cast<char>(h * 16 + l));
      i += 2;
    } else {
      bytes.push_back(s[i]);
    }
  }
  if (!text::valid_utf8(bytes)) {
    r.fail(StatusCode::kInvalidArgument, "url_decode: the %-escapes are not UTF-8");
    return Value::undefined();
  }
  return result(r, std::move(bytes));
}

bool slug_keep(char32_t cp) {
  auto type = static_cast<UCharCategory>(u_charType(static_cast<UChar32>(cp)));
  switch (type) {
    case U_UPPERCASE_LETTER:
    case U_LOWERCASE_LETTER:
    case U_TITLECASE_LETTER:
    case U_MODIFIER_LETTER:
    case U_OTHER_LETTER:
    case U_NON_SPACING_MARK:
    case U_ENCLOSING_MARK:
    case U_COMBINING_SPACING_MARK:
    case U_DECIMAL_DIGIT_NUMBER:
      return true;
    default:
      return false;
  }
}

Value f_slugify(Renderer& r, const Value& in, Args a, const FilterCall&) {
  std::string scratch;
  std::string s(input_text(r, in, scratch));
  std::string mode = a.empty() || a[0].kind() == Kind::kUndefined ? "default" : js::js_string(a[0]);
  bool cased = a.size() > 1 && js::js_truthy(a[1]);
  std::function<bool(char32_t)> keep;
  if (mode == "raw")
    keep = [](char32_t c) { return !text::is_js_space(c); };
  else if (mode == "default" || mode == "latin")
    keep = slug_keep;
  else if (mode == "pretty")
    keep = [](char32_t c) {
      return slug_keep(c) ||
             (c < 0x80 && std::string_view("._~!$&'()+,;=@").find(static_cast<char>(c)) != std::string_view::npos);
    };
  else if (mode == "ascii")
    keep = [](char32_t c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (mode == "latin") {
    static const std::vector<std::pair<std::string_view, std::string_view>> kAccents = {
        {"à", "a"},  {"á", "a"},  {"â", "a"},  {"ã", "a"}, {"ä", "a"}, {"å", "a"}, {"æ", "ae"}, {"ç", "c"},
        {"è", "e"},  {"é", "e"},  {"ê", "e"},  {"ë", "e"}, {"ì", "i"}, {"í", "i"}, {"î", "i"},  {"ï", "i"},
        {"ð", "d"},  {"ñ", "n"},  {"ò", "o"},  {"ó", "o"}, {"ô", "o"}, {"õ", "o"}, {"ö", "o"},  {"ø", "o"},
        {"ù", "u"},  {"ú", "u"},  {"û", "u"},  {"ü", "u"}, {"ý", "y"}, {"ÿ", "y"}, {"ß", "ss"}, {"œ", "oe"},
        {"þ", "th"}, {"ẞ", "SS"}, {"Œ", "OE"}, {"Þ", "TH"}};
    std::string plain;
    for (size_t i = 0; i < s.size();) {
      bool replaced = false;
      for (const auto& [from, to] : kAccents) {
        if (s.compare(i, from.size(), from) == 0) {
          plain += to;
          i += from.size();
          replaced = true;
          break;
        }
      }
      if (!replaced) plain.push_back(s[i++]);
    }
    s = plain;
  }
  if (keep) {
    std::string out;
    bool in_run = false;
    for (size_t i = 0; i < s.size();) {
      size_t start = i;
      char32_t cp = text::next_code_point(s, i);
      if (keep(cp)) {
        out.append(s, start, i - start);
        in_run = false;
      } else if (!in_run) {
        out.push_back('-');
        in_run = true;
      }
    }
    if (!out.empty() && out.front() == '-') out.erase(0, 1);
    if (!out.empty() && out.back() == '-') out.pop_back();
    s = out;
  }
  if (cased) return result(r, std::move(s));
  std::string lower;
  text::append_lower(lower, s);
  return result(r, std::move(lower));
}

// ---- strings ----

Value f_append(Renderer& r, const Value& in, Args a, const FilterCall&) {
  std::string out = js::stringify(in);
  js::append_stringified(out, a[0]);
  r.charge(out.size());
  return result(r, std::move(out));
}

Value f_prepend(Renderer& r, const Value& in, Args a, const FilterCall&) {
  std::string out = js::stringify(a[0]);
  js::append_stringified(out, in);
  r.charge(out.size());
  return result(r, std::move(out));
}

Value f_upcase(Renderer& r, const Value& in, Args, const FilterCall&) {
  std::string scratch, out;
  text::append_upper(out, input_text(r, in, scratch));
  return result(r, std::move(out));
}

Value f_downcase(Renderer& r, const Value& in, Args, const FilterCall&) {
  std::string scratch, out;
  text::append_lower(out, input_text(r, in, scratch));
  return result(r, std::move(out));
}

Value f_capitalize(Renderer& r, const Value& in, Args, const FilterCall&) {
  std::string scratch, out;
  std::string_view s = input_text(r, in, scratch);
  if (s.empty()) return Value::string("");
  size_t first_end = 0;
  char32_t first = text::next_code_point(s, first_end);
  if (first >= 0x10000)
    out.append(s.substr(0, first_end));  // a surrogate pair: JavaScript leaves it
  else
    text::append_upper(out, s.substr(0, first_end));
  text::append_lower(out, s.substr(first_end));
  return result(r, std::move(out));
}

using CharSet = std::vector<char32_t>;

CharSet char_set(std::string_view s) {
  CharSet set;
  for (size_t i = 0; i < s.size();) set.push_back(text::next_code_point(s, i));
  return set;
}

bool in_set(const CharSet& set, char32_t c) { return std::find(set.begin(), set.end(), c) != set.end(); }

enum class Side { kStart, kEnd, kBoth };

Value strip(Renderer& r, const Value& in, Args a, Side side) {
  std::string scratch, chars_scratch;
  std::string_view s = input_text(r, in, scratch);
  if (a.empty() || !js::js_truthy(a[0])) {
    std::string_view t = side == Side::kStart ? text::js_trim_start(s)
                         : side == Side::kEnd ? text::js_trim_end(s)
                                              : text::js_trim(s);
    return result(r, std::string(t));
  }
  CharSet set = char_set(js::string_view_of(a[0], chars_scratch));
  size_t b = 0, e = s.size();
  if (side != Side::kEnd) {
    while (b < e) {
      size_t j = b;
      if (!in_set(set, text::next_code_point(s, j))) break;
      b = j;
    }
  }
  if (side != Side::kStart) {
    while (e > b) {
      size_t start = e - 1;
      while (start > b && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
      size_t j = start;
      if (!in_set(set, text::next_code_point(s, j))) break;
      e = start;
    }
  }
  return result(r, std::string(s.substr(b, e - b)));
}

Value f_strip(Renderer& r, const Value& in, Args a, const FilterCall&) { return strip(r, in, a, Side::kBoth); }
Value f_lstrip(Renderer& r, const Value& in, Args a, const FilterCall&) { return strip(r, in, a, Side::kStart); }
Value f_rstrip(Renderer& r, const Value& in, Args a, const FilterCall&) { return strip(r, in, a, Side::kEnd); }

// JavaScript's split with a string separator; "" splits into characters.
std::vector<std::string_view> split(std::string_view s, std::string_view sep) {
  std::vector<std::string_view> parts;
  if (sep.empty()) {
    for (size_t i = 0; i < s.size();) {
      size_t start = i;
      text::next_code_point(s, i);
      parts.push_back(s.substr(start, i - start));
    }
    return parts;
  }
  size_t start = 0;
  while (true) {
    size_t at = s.find(sep, start);
    if (at == std::string_view::npos) {
      parts.push_back(s.substr(start));
      return parts;
    }
    parts.push_back(s.substr(start, at - start));
    start = at + sep.size();
  }
}

std::string join(const std::vector<std::string_view>& parts, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i) out += sep;
    out += parts[i];
  }
  return out;
}

Value f_split(Renderer& r, const Value& in, Args a, const FilterCall&) {
  std::string scratch, sep_scratch;
  std::string_view s = input_text(r, in, scratch);
  std::string_view sep = js::string_view_of(a[0], sep_scratch);
  std::vector<std::string_view> parts = split(s, sep);
  while (!parts.empty() && parts.back().empty()) parts.pop_back();
  // The parts must outlive `scratch`: keep the text in the arena and point into it.
  std::string_view kept = s.data() == scratch.data() ? r.keep(std::string(s)).as_string() : s;
  ArrayData* out = new_array(r, parts.size());
  for (auto p : parts) out->push_back(Value::string(kept.substr(static_cast<size_t>(p.data() - s.data()), p.size())));
  return Value::array(out);
}

Value f_remove(Renderer& r, const Value& in, Args a, const FilterCall&) {
  std::string scratch, pattern_scratch;
  std::string_view s = input_text(r, in, scratch);
  return result(r, join(split(s, js::string_view_of(a[0], pattern_scratch)), ""));
}

Value f_replace(Renderer& r, const Value& in, Args a, const FilterCall&) {
  std::string scratch, p_scratch, w_scratch;
  std::string_view s = input_text(r, in, scratch);
  std::string_view pattern = js::string_view_of(a[0], p_scratch);
  std::string_view with = js::string_view_of(arg(a, 1), w_scratch);
  std::vector<std::string_view> parts = split(s, pattern);
  if (!r.charge(parts.size() * (with.size() + 1))) return Value::undefined();
  return result(r, join(parts, with));
}

Value replace_one(Renderer& r, const Value& in, Args a, bool last, bool remove) {
  std::string scratch, p_scratch, w_scratch;
  std::string_view s = input_text(r, in, scratch);
  std::string_view pattern = js::string_view_of(a[0], p_scratch);
  std::string_view with = remove ? std::string_view() : js::string_view_of(arg(a, 1), w_scratch);
  size_t at = last ? s.rfind(pattern) : s.find(pattern);
  if (at == std::string_view::npos) return result(r, std::string(s));
  std::string out(s.substr(0, at));
  out += with;
  out += s.substr(at + pattern.size());
  return result(r, std::move(out));
}

Value f_replace_first(Renderer& r, const Value& in, Args a, const FilterCall&) {
  return replace_one(r, in, a, false, false);
}
Value f_replace_last(Renderer& r, const Value& in, Args a, const FilterCall&) {
  return replace_one(r, in, a, true, false);
}
Value f_remove_first(Renderer& r, const Value& in, Args a, const FilterCall&) {
  return replace_one(r, in, a, false, true);
}
Value f_remove_last(Renderer& r, const Value& in, Args a, const FilterCall&) {
  return replace_one(r, in, a, true, true);
}

size_t code_point_budget(double n) {
  return n <= 0 || std::isnan(n) ? 0 : static_cast<size_t>(std::min(std::ceil(n), 1e9));
}

Value f_truncate(Renderer& r, const Value& in, Args a, const FilterCall&) {
  std::string scratch, o_scratch;
  std::string_view s = input_text(r, in, scratch);
  double length = a.empty() || a[0].kind() == Kind::kUndefined ? 50 : js::to_liquid_number(a[0]);
  std::string_view ellipsis =
      a.size() > 1 && a[1].kind() != Kind::kUndefined ? js::string_view_of(a[1], o_scratch) : "...";
  if (text::advance_code_points(s, 0, code_point_budget(length)) >= s.size()) return in;
  double keep = std::max(length - static_cast<double>(text::code_point_count(ellipsis)), 0.0);
  std::string out(s.substr(0, text::advance_code_points(s, 0, code_point_budget(keep))));
  out += ellipsis;
  return result(r, std::move(out));
}

// JavaScript's split(/\s+/).
std::vector<std::string_view> split_spaces(std::string_view s) {
  std::vector<std::string_view> parts;
  size_t start = 0, i = 0;
  while (i < s.size()) {
    size_t n = text::js_space_at(s, i);
    if (!n) {
      size_t j = i;
      text::next_code_point(s, j);
      i = j;
      continue;
    }
    parts.push_back(s.substr(start, i - start));
    while (size_t m = text::js_space_at(s, i)) i += m;
    start = i;
  }
  parts.push_back(s.substr(start));
  return parts;
}

Value f_truncatewords(Renderer& r, const Value& in, Args a, const FilterCall&) {
  std::string scratch, o_scratch;
  std::string_view s = input_text(r, in, scratch);
  double words = a.empty() || a[0].kind() == Kind::kUndefined ? 15 : js::to_liquid_number(a[0]);
  std::string_view ellipsis =
      a.size() > 1 && a[1].kind() != Kind::kUndefined ? js::string_view_of(a[1], o_scratch) : "...";
  std::vector<std::string_view> parts = split_spaces(text::js_trim_start(s));
  if (words <= 0) words = 1;
  size_t take = static_cast<size_t>(std::min(std::trunc(words), static_cast<double>(parts.size())));
  std::string out =
      join(std::vector<std::string_view>(parts.begin(), parts.begin() + static_cast<std::ptrdiff_t>(take)), " ");
  if (static_cast<double>(parts.size()) >= words) out += ellipsis;
  return result(r, std::move(out));
}

Value f_normalize_whitespace(Renderer& r, const Value& in, Args, const FilterCall&) {
  std::string scratch;
  std::string_view s = input_text(r, in, scratch);
  return result(r, join(split_spaces(s), " "));
}

Value f_squish(Renderer& r, const Value& in, Args, const FilterCall&) {
  std::string scratch;
  std::string_view s = input_text(r, in, scratch);
  std::string joined = join(split_spaces(s), " ");
  return result(r, std::string(text::js_trim(joined)));
}

bool is_cjk(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x3040 && c <= 0x309F) || (c >= 0x30A0 && c <= 0x30FF) || (c >= 0xAC00 && c <= 0xD7AF);
}

Value f_number_of_words(Renderer& r, const Value& in, Args a, const FilterCall&) {
  std::string scratch;
  std::string_view s = text::js_trim(input_text(r, in, scratch));
  if (s.empty()) return Value::number(0);
  std::string mode = a.empty() || a[0].kind() == Kind::kUndefined ? "" : js::js_string(a[0]);
  size_t cjk = 0, runs = 0;
  bool in_run = false;
  for (size_t i = 0; i < s.size();) {
    char32_t c = text::next_code_point(s, i);
    if (is_cjk(c)) {
      ++cjk;
      in_run = false;
    } else if (text::is_js_space(c)) {
      in_run = false;
    } else if (!in_run) {
      ++runs;
      in_run = true;
    }
  }
  if (mode == "cjk" || (mode == "auto" && cjk > 0)) return Value::number(static_cast<double>(cjk + runs));
  return Value::number(static_cast<double>(split_spaces(s).size()));
}

Value f_array_to_sentence_string(Renderer& r, const Value& in, Args a, const FilterCall&) {
  Value list = to_array(r, in);
  std::string connector = a.empty() || a[0].kind() == Kind::kUndefined ? "and" : js::stringify(a[0]);
  size_t n = list.array_size();
  r.charge(n + 1);
  if (n == 0) return Value::string("");
  if (n == 1) return list.array_at(0);
  std::string out;
  if (n == 2) {
    js::append_js_string(out, list.array_at(0));
    out += " " + connector + " ";
    js::append_js_string(out, list.array_at(1));
    return result(r, std::move(out));
  }
  for (size_t i = 0; i + 1 < n; ++i) {
    if (i) out += ", ";
    Value e = list.array_at(i);
    if (!e.is_nil()) js::append_js_string(out, e);
  }
  out += ", " + connector + " ";
  js::append_js_string(out, list.array_at(n - 1));
  return result(r, std::move(out));
}

// ---- arrays ----

Value f_join(Renderer& r, const Value& in, Args a, const FilterCall&) {
  Value list = to_array(r, in);
  std::string sep = a.empty() || a[0].is_nil() ? " " : js::stringify(a[0]);
  std::string out;
  size_t n = list.array_size();
  r.charge(n + 1);
  for (size_t i = 0; i < n; ++i) {
    if (i) out += sep;
    Value e = list.array_at(i);
    if (!e.is_nil()) js::append_js_string(out, e);
  }
  return result(r, std::move(out));
}

Value first_or_last(Renderer& r, const Value& v, bool last) {
  if (v.is_array()) {
    size_t n = v.array_size();
    if (n == 0) return Value::undefined();
    return v.array_at(last ? n - 1 : 0);
  }
  if (v.kind() == Kind::kString) {
    std::string_view s = v.as_string();
    if (s.empty()) return Value::undefined();
    if (!last) return Value::string(s.substr(0, text::advance_code_points(s, 0, 1)));
    size_t start = s.size() - 1;
    while (start > 0 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
    return Value::string(s.substr(start));
  }
  if (v.kind() == Kind::kJsonObject) {
    // Array-like: an object with a numeric length.
    const auto& j = v.as_json();
    auto length = j.find("length");
    if (length != j.end() && length->is_number()) {
      double index = last ? length->get<double>() - 1 : 0;
      return js::read_property(v, text::js_number(index), r.arena());
    }
  }
  return Value::string("");
}

Value f_first(Renderer& r, const Value& in, Args, const FilterCall&) { return first_or_last(r, in, false); }
Value f_last(Renderer& r, const Value& in, Args, const FilterCall&) { return first_or_last(r, in, true); }

Value f_size(Renderer&, const Value& in, Args, const FilterCall&) {
  switch (in.kind()) {
    case Kind::kString:
      return Value::number(static_cast<double>(text::utf16_length(in.as_string())));
    case Kind::kJsonArray:
    case Kind::kArray:
      return Value::number(static_cast<double>(in.array_size()));
    case Kind::kJsonObject: {
      auto it = in.as_json().find("length");
      if (it == in.as_json().end()) return Value::number(0);
      Value l = Value::json(*it);
      return js::js_truthy(l) ? l : Value::number(0);
    }
    default:
      return Value::number(0);
  }
}

Value f_reverse(Renderer& r, const Value& in, Args, const FilterCall&) {
  Value list = to_array(r, in);
  size_t n = list.array_size();
  ArrayData* out = new_array(r, n);
  for (size_t i = n; i-- > 0;) out->push_back(list.array_at(i));
  return Value::array(out);
}

// A stable merge sort that stays in bounds whatever the comparison says (mixed types can make
// it inconsistent).
template <typename Less>
void stable_sort(std::vector<std::pair<Value, Value>>& items, Less less) {
  std::vector<std::pair<Value, Value>> buffer(items.size());
  for (size_t width = 1; width < items.size(); width *= 2) {
    for (size_t lo = 0; lo < items.size(); lo += 2 * width) {
      size_t mid = std::min(lo + width, items.size()), hi = std::min(lo + 2 * width, items.size());
      size_t i = lo, j = mid, k = lo;
      while (i < mid && j < hi) buffer[k++] = less(items[j].second, items[i].second) ? items[j++] : items[i++];
      while (i < mid) buffer[k++] = items[i++];
      while (j < hi) buffer[k++] = items[j++];
    }
    items.swap(buffer);
  }
}

Value sort(Renderer& r, const Value& in, Args a, bool natural) {
  Value list = to_array(r, in);
  size_t n = list.array_size();
  std::string path = !a.empty() && js::js_truthy(a[0]) ? js::stringify(a[0]) : "";
  std::vector<std::pair<Value, Value>> items;
  items.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    Value item = list.array_at(i);
    items.emplace_back(item, path.empty() ? item : dotted(r, item, path));
  }
  if (!r.charge(n * (static_cast<size_t>(std::log2(n + 1)) + 1))) return Value::undefined();
  if (natural) {
    auto lower = [&](const Value& v) {
      std::string s, l;
      js::append_js_string(s, js::to_value(v, r.arena()));
      text::append_lower(l, s);
      return l;
    };
    stable_sort(items, [&](const Value& x, const Value& y) {
      bool nx = x.is_nil(), ny = y.is_nil();
      if (nx || ny) return !nx && ny;
      return text::js_compare(lower(x), lower(y)) < 0;
    });
  } else {
    stable_sort(items, [](const Value& x, const Value& y) { return js::ordered_compare(x, y) < 0; });
  }
  ArrayData* out = new_array(r, n);
  for (auto& [item, key] : items) out->push_back(item);
  return Value::array(out);
}

Value f_sort(Renderer& r, const Value& in, Args a, const FilterCall&) { return sort(r, in, a, false); }
Value f_sort_natural(Renderer& r, const Value& in, Args a, const FilterCall&) { return sort(r, in, a, true); }

Value f_map(Renderer& r, const Value& in, Args a, const FilterCall&) {
  Value list = to_array(r, in);
  std::string path = js::stringify(a[0]);
  size_t n = list.array_size();
  ArrayData* out = new_array(r, n);
  for (size_t i = 0; i < n; ++i) out->push_back(dotted(r, list.array_at(i), path));
  return Value::array(out);
}

Value f_sum(Renderer& r, const Value& in, Args a, const FilterCall&) {
  Value list = to_array(r, in);
  std::string path = !a.empty() && js::js_truthy(a[0]) ? js::stringify(a[0]) : "";
  double total = 0;
  size_t n = list.array_size();
  r.charge(n + 1);
  for (size_t i = 0; i < n; ++i) {
    Value item = list.array_at(i);
    double d = js::to_number(js::to_value(path.empty() ? item : dotted(r, item, path), r.arena()));
    total += std::isnan(d) ? 0 : d;
  }
  return Value::number(total);
}

Value f_compact(Renderer& r, const Value& in, Args, const FilterCall&) {
  Value list = to_array(r, in);
  size_t n = list.array_size();
  ArrayData* out = new_array(r, n);
  for (size_t i = 0; i < n; ++i) {
    Value e = list.array_at(i);
    if (!e.is_nil() && e.kind() != Kind::kNil) out->push_back(e);
  }
  return Value::array(out);
}

Value concat_values(Renderer& r, const Value& lhs, const Value& rhs) {
  Value l = to_array(r, lhs), rr = to_array(r, rhs);
  ArrayData* out = new_array(r, l.array_size() + rr.array_size());
  for (size_t i = 0; i < l.array_size(); ++i) out->push_back(l.array_at(i));
  for (size_t i = 0; i < rr.array_size(); ++i) out->push_back(rr.array_at(i));
  return Value::array(out);
}

Value f_concat(Renderer& r, const Value& in, Args a, const FilterCall&) {
  return concat_values(r, in,
                       a.empty() || a[0].kind() == Kind::kUndefined ? Value::array(r.arena().new_array()) : a[0]);
}

Value f_push(Renderer& r, const Value& in, Args a, const FilterCall&) {
  ArrayData* one = r.arena().new_array();
  one->push_back(a[0]);
  return concat_values(r, in, Value::array(one));
}

Value f_unshift(Renderer& r, const Value& in, Args a, const FilterCall&) {
  Value list = to_array(r, in);
  ArrayData* out = new_array(r, list.array_size() + 1);
  out->push_back(a[0]);
  for (size_t i = 0; i < list.array_size(); ++i) out->push_back(list.array_at(i));
  return Value::array(out);
}

Value drop_end(Renderer& r, const Value& in, bool first) {
  Value list = to_array(r, in);
  size_t n = list.array_size();
  ArrayData* out = new_array(r, n);
  for (size_t i = first ? 1 : 0; i + (first ? 0 : 1) < n; ++i) out->push_back(list.array_at(i));
  return Value::array(out);
}

Value f_pop(Renderer& r, const Value& in, Args, const FilterCall&) { return drop_end(r, in, false); }
Value f_shift(Renderer& r, const Value& in, Args, const FilterCall&) { return drop_end(r, in, true); }

Value f_slice(Renderer& r, const Value& in, Args a, const FilterCall&) {
  if (in.is_nil()) return Value::array(r.arena().new_array());
  double begin = std::trunc(js::to_liquid_number(a[0]));
  double length = a.size() > 1 && a[1].kind() != Kind::kUndefined ? std::trunc(js::to_liquid_number(a[1])) : 1;
  if (in.is_array()) {
    double n = static_cast<double>(in.array_size());
    if (begin < 0) begin += n;
    if (begin < 0 || length < 0) return Value::array(r.arena().new_array());
    size_t from = static_cast<size_t>(std::min(begin, n));
    size_t to = static_cast<size_t>(std::min(begin + length, n));
    ArrayData* out = new_array(r, to > from ? to - from : 0);
    for (size_t i = from; i < to; ++i) out->push_back(in.array_at(i));
    return Value::array(out);
  }
  std::string scratch;
  std::string_view s = input_text(r, in, scratch);
  if (begin < 0) begin += static_cast<double>(text::code_point_count(s));
  if (begin < 0 || length < 0) return Value::string("");
  size_t start = text::advance_code_points(s, 0, code_point_budget(begin));
  size_t end = text::advance_code_points(s, start, code_point_budget(length));
  return result(r, std::string(s.substr(start, end - start)));
}

Value f_uniq(Renderer& r, const Value& in, Args, const FilterCall&) {
  Value list = to_array(r, in);
  size_t n = list.array_size();
  ArrayData* out = new_array(r, n);
  std::unordered_set<std::string> seen;
  for (size_t i = 0; i < n; ++i) {
    Value e = list.array_at(i);
    std::string key(1, static_cast<char>(e.kind()));
    switch (e.kind()) {
      case Kind::kBool:
        key += e.as_bool() ? "1" : "0";
        break;
      case Kind::kNumber: {
        double d = e.as_number();
        if (std::isnan(d))
          key += "NaN";
        else
          text::append_js_number(key, d == 0 ? 0.0 : d);
        if (!std::isnan(d) && d != std::floor(d)) key += fmt::format("/{:a}", d);
        break;
      }
      case Kind::kString:
        key += e.as_string();
        break;
      case Kind::kUndefined:
      case Kind::kNull:
      case Kind::kNil:
      case Kind::kEmpty:
      case Kind::kBlank:
        break;
      default:
        key += fmt::format("{}", e.identity());
        break;
    }
    if (seen.insert(std::move(key)).second) out->push_back(e);
  }
  return Value::array(out);
}

Value filter_by(Renderer& r, const Value& in, Args a, bool keep_matching) {
  Value list = to_array(r, js::to_value(in, r.arena()));
  ScopePath path = scope_path(r, a[0]);
  if (!path.ok) return Value::undefined();
  size_t n = list.array_size();
  ArrayData* out = new_array(r, n);
  for (size_t i = 0; i < n; ++i) {
    Value item = list.array_at(i);
    if (matches(r, read_scope_path(r, item, path), a, 1) == keep_matching) out->push_back(item);
  }
  return Value::array(out);
}

Value f_where(Renderer& r, const Value& in, Args a, const FilterCall&) { return filter_by(r, in, a, true); }
Value f_reject(Renderer& r, const Value& in, Args a, const FilterCall&) { return filter_by(r, in, a, false); }

Value filter_by_expression(Renderer& r, const Value& in, const FilterCall& call, bool keep) {
  Value list = to_array(r, in);
  size_t n = list.array_size();
  ArrayData* out = new_array(r, n);
  for (size_t i = 0; i < n && !r.failed(); ++i) {
    Value item = list.array_at(i);
    Value v = r.call_lambda(call, item);
    if (v.kind() == Kind::kBool && v.as_bool() == keep) out->push_back(item);
  }
  return Value::array(out);
}

Value f_where_exp(Renderer& r, const Value& in, Args, const FilterCall& call) {
  return filter_by_expression(r, in, call, true);
}
Value f_reject_exp(Renderer& r, const Value& in, Args, const FilterCall& call) {
  return filter_by_expression(r, in, call, false);
}

template <typename KeyOf>
Value group(Renderer& r, const Value& in, KeyOf key_of) {
  Value list = js::to_value(in, r.arena());
  // toEnumerable: objects group their [key, value] pairs.
  if (list.is_object() || (list.kind() == Kind::kString && !list.as_string().empty())) {
    ArrayData* pairs = r.arena().new_array();
    if (list.kind() == Kind::kString) {
      pairs->push_back(list);
    } else if (list.kind() == Kind::kJsonObject) {
      for (const auto& [k, e] : list.as_json().items()) {
        ArrayData* pair = r.arena().new_array();
        pair->push_back(Value::string(k));
        pair->push_back(Value::json(e));
        pairs->push_back(Value::array(pair));
      }
    } else {
      for (const auto& [k, e] : list.as_object_data()) {
        ArrayData* pair = r.arena().new_array();
        pair->push_back(Value::string(k));
        pair->push_back(e);
        pairs->push_back(Value::array(pair));
      }
    }
    list = Value::array(pairs);
  } else if (!list.is_array()) {
    list = Value::array(r.arena().new_array());
  }
  size_t n = list.array_size();
  r.charge(n + 1);
  std::vector<std::pair<Value, ArrayData*>> groups;
  for (size_t i = 0; i < n && !r.failed(); ++i) {
    Value item = list.array_at(i);
    Value key = key_of(item);
    ArrayData* items = nullptr;
    for (auto& [k, g] : groups)
      if (js::same_value_zero(k, key)) items = g;
    if (!items) {
      items = r.arena().new_array();
      groups.emplace_back(key, items);
    }
    items->push_back(item);
  }
  ArrayData* out = new_array(r, groups.size());
  for (auto& [k, g] : groups) {
    ObjectData* o = r.arena().new_object();
    o->emplace_back("name", k);
    o->emplace_back("items", Value::array(g));
    out->push_back(Value::object(o));
  }
  return Value::array(out);
}

Value f_group_by(Renderer& r, const Value& in, Args a, const FilterCall&) {
  ScopePath path = scope_path(r, a[0]);
  if (!path.ok) return Value::undefined();
  return group(r, in, [&](const Value& item) { return read_scope_path(r, item, path); });
}

Value f_group_by_exp(Renderer& r, const Value& in, Args, const FilterCall& call) {
  return group(r, in, [&](const Value& item) { return r.call_lambda(call, item); });
}

// has / find / find_index: the first item that matches; nullopt when none does.
std::optional<std::pair<size_t, Value>> search(Renderer& r, const Value& in, Args a) {
  Value list = to_array(r, js::to_value(in, r.arena()));
  ScopePath path = scope_path(r, a[0]);
  if (!path.ok) return std::nullopt;
  size_t n = list.array_size();
  r.charge(n + 1);
  for (size_t i = 0; i < n; ++i) {
    Value item = list.array_at(i);
    if (matches(r, read_scope_path(r, item, path), a, 1)) return std::make_pair(i, item);
  }
  return std::nullopt;
}

std::optional<std::pair<size_t, Value>> search_expression(Renderer& r, const Value& in, const FilterCall& call) {
  Value list = to_array(r, in);
  size_t n = list.array_size();
  r.charge(n + 1);
  for (size_t i = 0; i < n && !r.failed(); ++i) {
    Value item = list.array_at(i);
    if (js::js_truthy(r.call_lambda(call, item))) return std::make_pair(i, item);
  }
  return std::nullopt;
}

Value f_has(Renderer& r, const Value& in, Args a, const FilterCall&) {
  return Value::boolean(search(r, in, a).has_value());
}
Value f_find(Renderer& r, const Value& in, Args a, const FilterCall&) {
  auto found = search(r, in, a);
  return found ? found->second : Value::undefined();
}
Value f_find_index(Renderer& r, const Value& in, Args a, const FilterCall&) {
  auto found = search(r, in, a);
  return found ? Value::number(static_cast<double>(found->first)) : Value::undefined();
}
Value f_has_exp(Renderer& r, const Value& in, Args, const FilterCall& call) {
  return Value::boolean(search_expression(r, in, call).has_value());
}
Value f_find_exp(Renderer& r, const Value& in, Args, const FilterCall& call) {
  auto found = search_expression(r, in, call);
  return found ? found->second : Value::undefined();
}
Value f_find_index_exp(Renderer& r, const Value& in, Args, const FilterCall& call) {
  auto found = search_expression(r, in, call);
  return found ? Value::number(static_cast<double>(found->first)) : Value::undefined();
}

// ---- dates ----

// liquidjs' parseDate: the moment of the input in the filter's or the render's zone; nullopt
// when the input is not a date (the filter then returns it unchanged).
std::optional<dates::Moment> moment(Renderer& r, const Value& v, const Value& zone_arg) {
  double ms;
  switch (v.kind()) {
    case Kind::kNumber:
      ms = v.as_number() * 1000;
      break;
    case Kind::kBool:
      ms = v.as_bool() ? 1 : 0;
      break;
    case Kind::kString: {
      std::string_view s = v.as_string();
      if (s == "now" || s == "today") {
        ms = static_cast<double>(r.now().time_since_epoch().count());
      } else if (!s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        ms = text::js_string_to_number(s) * 1000;
      } else {
        auto parsed = dates::parse_iso(s);
        if (!parsed) return std::nullopt;
        ms = *parsed;
      }
      break;
    }
    default:
      return std::nullopt;
  }
  ms = std::trunc(ms);  // TimeClip
  if (!dates::in_range(ms)) return std::nullopt;
  dates::Moment m;
  m.ms = ms;
  if (zone_arg.kind() == Kind::kNumber) {
    // A number is liquidjs' timezoneOffset: minutes behind UTC.
    m.offset_minutes = -zone_arg.as_number();
    m.zone_name = "";
  } else {
    std::string_view name = r.default_zone_name();
    if (zone_arg.kind() == Kind::kString) name = zone_arg.as_string();
    const date::time_zone* z = r.zone(name);
    if (!z) {
      r.fail(StatusCode::kInvalidArgument, fmt::format("date: unknown time zone \"{}\"", name));
      return std::nullopt;
    }
    auto seconds = date::sys_seconds{std::chrono::seconds{static_cast<std::int64_t>(std::floor(ms / 1000))}};
    m.offset_minutes = static_cast<double>(z->get_info(seconds).offset.count()) / 60.0;
    m.zone_name = name;
  }
  if (!dates::in_range(m.ms + m.offset_minutes * 60000)) return std::nullopt;
  return m;
}

Value format_date(Renderer& r, const Value& in, std::string_view format, const Value& zone) {
  auto m = moment(r, in, zone);
  if (!m) return in;
  std::string out;
  dates::strftime(out, *m, format);
  r.charge(out.size() + 1);
  return result(r, std::move(out));
}

Value f_date(Renderer& r, const Value& in, Args a, const FilterCall&) {
  std::string scratch;
  std::string_view format = a.empty() || a[0].is_nil() ? dates::kDefaultFormat : js::string_view_of(a[0], scratch);
  return format_date(r, in, format, arg(a, 1));
}

Value f_date_to_xmlschema(Renderer& r, const Value& in, Args, const FilterCall&) {
  return format_date(r, in, "%Y-%m-%dT%H:%M:%S%:z", Value::undefined());
}

Value f_date_to_rfc822(Renderer& r, const Value& in, Args, const FilterCall&) {
  return format_date(r, in, "%a, %d %b %Y %H:%M:%S %z", Value::undefined());
}

Value date_to_string(Renderer& r, const Value& in, Args a, std::string_view month) {
  auto m = moment(r, in, Value::undefined());
  if (!m) return in;
  std::string format;
  if (!a.empty() && a[0].kind() == Kind::kString && a[0].as_string() == "ordinal") {
    std::string day;
    dates::strftime(day, *m, "%-d");
    bool us = a.size() > 1 && a[1].kind() == Kind::kString && a[1].as_string() == "US";
    format = us ? fmt::format("{} {}%q, %Y", month, day) : fmt::format("{}%q {} %Y", day, month);
  } else {
    format = fmt::format("%d {} %Y", month);
  }
  std::string out;
  dates::strftime(out, *m, format);
  return result(r, std::move(out));
}

Value f_date_to_string(Renderer& r, const Value& in, Args a, const FilterCall&) {
  return date_to_string(r, in, a, "%b");
}
Value f_date_to_long_string(Renderer& r, const Value& in, Args a, const FilterCall&) {
  return date_to_string(r, in, a, "%B");
}

// ---- misc ----

// default: value, allow_false: true (the parser passes allow_false as a second argument).
Value f_default(Renderer& r, const Value& raw, Args a, const FilterCall&) {
  Value v = js::to_value(raw, r.arena());
  if (v.is_array()) return v.array_size() ? v : a[0];
  if (v.kind() == Kind::kString) return v.as_string().empty() ? a[0] : v;
  if (v.kind() == Kind::kBool && !v.as_bool() && a.size() > 1 && js::js_truthy(js::to_value(a[1], r.arena()))) return v;
  return js::liquid_truthy(v) ? v : a[0];
}

Value f_raw(Renderer&, const Value& in, Args, const FilterCall&) { return in; }

Value f_json(Renderer& r, const Value& in, Args a, const FilterCall&) {
  std::string indent;
  if (!a.empty()) {
    Value space = js::to_value(a[0], r.arena());
    if (space.kind() == Kind::kNumber) {
      double n = std::min(10.0, std::trunc(space.as_number()));
      if (n >= 1) indent.assign(static_cast<size_t>(n), ' ');
    } else if (space.kind() == Kind::kString) {
      std::string_view s = space.as_string();
      indent = std::string(s.substr(0, text::advance_code_points(s, 0, 10)));
    }
  }
  std::string out;
  js::append_json(out, in, indent);
  r.charge(out.size() + 1);
  if (out.empty() && in.kind() == Kind::kUndefined) return Value::undefined();
  return result(r, std::move(out));
}

Value f_to_integer(Renderer&, const Value& in, Args, const FilterCall&) { return Value::number(js::to_number(in)); }

Value f_base64_encode(Renderer& r, const Value& in, Args, const FilterCall&) {
  std::string scratch;
  return result(r, tp::base64_encode(input_text(r, in, scratch)));
}

// Decoded bytes as text, with each ill-formed UTF-8 sequence (maximal subpart) as U+FFFD.
std::string utf8_with_replacements(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    size_t need = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
      need = 1;
    else if (c == 0xE0)
      need = 2, lo = 0xA0;
    else if (c >= 0xE1 && c <= 0xEC)
      need = 2;
    else if (c == 0xED)
      need = 2, hi = 0x9F;
    else if (c >= 0xEE && c <= 0xEF)
      need = 2;
    else if (c == 0xF0)
      need = 3, lo = 0x90;
    else if (c >= 0xF1 && c <= 0xF3)
      need = 3;
    else if (c == 0xF4)
      need = 3, hi = 0x8F;
    if (need == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
      continue;
    }
    size_t j = i + 1;
    size_t got = 0;
    while (got < need && j < s.size()) {
      auto cc = static_cast<unsigned char>(s[j]);
      unsigned char l = got == 0 ? lo : 0x80, h = got == 0 ? hi : 0xBF;
      if (cc < l || cc > h) break;
      ++j, ++got;
    }
    if (got == need)
      out.append(s.substr(i, j - i));
    else
      out += "\xEF\xBF\xBD";
    i = j;
  }
  return out;
}

Value f_base64_decode(Renderer& r, const Value& in, Args, const FilterCall&) {
  std::string scratch;
  std::string_view s = input_text(r, in, scratch);
  std::string clean;
  for (char c : s)
    if (c != '\t' && c != '\n' && c != '\f' && c != '\r' && c != ' ') clean.push_back(c);
  std::string body = clean;
  if (body.size() % 4 == 0) {
    if (body.size() >= 2 && body.compare(body.size() - 2, 2, "==") == 0)
      body.resize(body.size() - 2);
    else if (!body.empty() && body.back() == '=')
      body.pop_back();
  }
  auto b64 = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  bool valid = body.size() % 4 != 1 && std::all_of(body.begin(), body.end(), [&](char c) { return b64(c) >= 0; });
  if (!valid) {
    r.fail(StatusCode::kInvalidArgument, "base64_decode: the input is not base64");
    return Value::undefined();
  }
  std::string bytes;
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : body) {
    acc = (acc << 6) | static_cast<std::uint32_t>(b64(c));
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return result(r, utf8_with_replacements(bytes));
}

Value f_sha256(Renderer& r, const Value& in, Args, const FilterCall&) {
  std::string scratch;
  return result(r, tp::hex_encode(tp::sha256(input_text(r, in, scratch))));
}

Value f_hmac_sha256(Renderer& r, const Value& in, Args a, const FilterCall&) {
  std::string scratch, key_scratch;
  std::string_view data = input_text(r, in, scratch);
  return result(r, tp::hex_encode(tp::hmac_sha256(js::string_view_of(a[0], key_scratch), data)));
}

// The table. Names sorted for the binary search below.
const FilterDef kFilters[] = {
    {"abs", f_abs, 0, 0},
    {"append", f_append, 1, 1},
    {"array_to_sentence_string", f_array_to_sentence_string, 0, 1},
    {"at_least", f_at_least, 1, 1},
    {"at_most", f_at_most, 1, 1},
    {"base64_decode", f_base64_decode, 0, 0},
    {"base64_encode", f_base64_encode, 0, 0},
    {"capitalize", f_capitalize, 0, 0},
    {"ceil", f_ceil, 0, 0},
    {"cgi_escape", f_cgi_escape, 0, 0},
    {"compact", f_compact, 0, 0},
    {"concat", f_concat, 0, 1},
    {"date", f_date, 0, 2},
    {"date_to_long_string", f_date_to_long_string, 0, 2},
    {"date_to_rfc822", f_date_to_rfc822, 0, 0},
    {"date_to_string", f_date_to_string, 0, 2},
    {"date_to_xmlschema", f_date_to_xmlschema, 0, 0},
    {"default", f_default, 1, 1, FilterShape::kPlain, true},
    {"divided_by", f_divided_by, 1, 2},
    {"downcase", f_downcase, 0, 0},
    {"escape", f_escape, 0, 0},
    {"escape_once", f_escape_once, 0, 0},
    {"find", f_find, 1, 2, FilterShape::kPlain, true},
    {"find_exp", f_find_exp, 2, 2, FilterShape::kLambda},
    {"find_index", f_find_index, 1, 2, FilterShape::kPlain, true},
    {"find_index_exp", f_find_index_exp, 2, 2, FilterShape::kLambda},
    {"first", f_first, 0, 0},
    {"floor", f_floor, 0, 0},
    {"group_by", f_group_by, 1, 1},
    {"group_by_exp", f_group_by_exp, 2, 2, FilterShape::kLambda},
    {"has", f_has, 1, 2, FilterShape::kPlain, true},
    {"has_exp", f_has_exp, 2, 2, FilterShape::kLambda},
    {"hmac_sha256", f_hmac_sha256, 1, 1},
    {"inspect", f_json, 0, 1, FilterShape::kPlain, true},
    {"join", f_join, 0, 1},
    {"json", f_json, 0, 1, FilterShape::kPlain, true},
    {"jsonify", f_json, 0, 1, FilterShape::kPlain, true},
    {"last", f_last, 0, 0},
    {"lstrip", f_lstrip, 0, 1},
    {"map", f_map, 1, 1},
    {"minus", f_minus, 1, 1},
    {"modulo", f_modulo, 1, 1},
    {"money", f_money, 0, 1},
    {"newline_to_br", f_newline_to_br, 0, 0},
    {"normalize_whitespace", f_normalize_whitespace, 0, 0},
    {"number_of_words", f_number_of_words, 0, 1},
    {"plus", f_plus, 1, 1},
    {"pop", f_pop, 0, 0},
    {"prepend", f_prepend, 1, 1},
    {"push", f_push, 1, 1},
    {"raw", f_raw, 0, 0},
    {"reject", f_reject, 1, 2, FilterShape::kPlain, true},
    {"reject_exp", f_reject_exp, 2, 2, FilterShape::kLambda},
    {"remove", f_remove, 1, 1},
    {"remove_first", f_remove_first, 1, 1},
    {"remove_last", f_remove_last, 1, 1},
    {"replace", f_replace, 2, 2},
    {"replace_first", f_replace_first, 2, 2},
    {"replace_last", f_replace_last, 2, 2},
    {"reverse", f_reverse, 0, 0},
    {"round", f_round, 0, 1},
    {"rstrip", f_rstrip, 0, 1},
    {"sha256", f_sha256, 0, 0},
    {"shift", f_shift, 0, 0},
    {"size", f_size, 0, 0},
    {"slice", f_slice, 1, 2},
    {"slugify", f_slugify, 0, 2},
    {"sort", f_sort, 0, 1},
    {"sort_natural", f_sort_natural, 0, 1},
    {"split", f_split, 1, 1},
    {"squish", f_squish, 0, 0},
    {"strip", f_strip, 0, 1},
    {"strip_html", f_strip_html, 0, 0},
    {"strip_newlines", f_strip_newlines, 0, 0},
    {"sum", f_sum, 0, 1},
    {"times", f_times, 1, 1},
    {"to_integer", f_to_integer, 0, 0},
    {"truncate", f_truncate, 0, 2},
    {"truncatewords", f_truncatewords, 0, 2},
    {"uniq", f_uniq, 0, 0},
    {"unshift", f_unshift, 1, 1},
    {"upcase", f_upcase, 0, 0},
    {"uri_escape", f_uri_escape, 0, 0},
    {"url_decode", f_url_decode, 0, 0},
    {"url_encode", f_url_encode, 0, 0},
    {"where", f_where, 1, 2, FilterShape::kPlain, true},
    {"where_exp", f_where_exp, 2, 2, FilterShape::kLambda},
    {"xml_escape", f_escape, 0, 0},
};

}  // namespace

const FilterDef* find_filter(std::string_view name) {
  auto it = std::lower_bound(std::begin(kFilters), std::end(kFilters), name,
                             [](const FilterDef& d, std::string_view n) { return d.name < n; });
  return it != std::end(kFilters) && it->name == name ? &*it : nullptr;
}

std::vector<std::string_view> filter_names() {
  std::vector<std::string_view> names;
  for (const auto& d : kFilters) names.push_back(d.name);
  return names;
}

}  // namespace tp::templates
