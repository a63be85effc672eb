// Text helpers for the Liquid engine: UTF-8, and the JavaScript rules that liquidjs follows
// (number printing, string-to-number, whitespace, UTF-16 lengths and order, case mapping).
// Internal to src/templates. Everything here is pure and thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace tp::templates::text {

// Decodes one code point at s[i], advancing i. Invalid bytes decode as themselves (U+0080..U+00FF
// range is never produced for them: they come back as 0xFFFD) and advance by one byte, so loops
// always make progress.
char32_t next_code_point(std::string_view s, size_t& i);
// Number of code points, and of UTF-16 code units (JavaScript's String length).
size_t code_point_count(std::string_view s);
size_t utf16_length(std::string_view s);
// Byte offset after `count` code points from `from` (clamped to the end).
size_t advance_code_points(std::string_view s, size_t from, size_t count);
// Whether `s` is well-formed UTF-8.
bool valid_utf8(std::string_view s);

// liquidjs' "blank" in tag markup and whitespace control: ASCII \t\n\v\f\r and space, plus the
// Unicode spaces U+00A0 U+1680 U+180E U+2000..U+200A U+2028 U+2029 U+202F U+205F U+3000.
bool is_markup_blank(char32_t cp);
// JavaScript's \s and String.prototype.trim: the above without U+180E, plus U+FEFF.
bool is_js_space(char32_t cp);
// A character that may appear in a Liquid identifier (liquidjs isWord): ASCII letters, digits,
// '_' and '-', and any non-ASCII character except the markup blanks and the curly quotes.
bool is_word(char32_t cp);

// Length in bytes of the markup blank at s[i], or 0 when there is none.
size_t markup_blank_at(std::string_view s, size_t i);
// Same for a JavaScript \s character.
size_t js_space_at(std::string_view s, size_t i);
// Length of the markup blank that ends at s[i - 1], or 0.
size_t markup_blank_before(std::string_view s, size_t i);
size_t js_space_before(std::string_view s, size_t i);
std::string_view js_trim(std::string_view s);
std::string_view js_trim_start(std::string_view s);
std::string_view js_trim_end(std::string_view s);

// JavaScript's Number.prototype.toString(): "1", "0.1", "1e+21", "1.5e-7", "NaN", "-Infinity".
void append_js_number(std::string& out, double value);
std::string js_number(double value);
// JavaScript's Number(string): trims, accepts decimal with exponent, "Infinity", 0x/0o/0b;
// an empty string is 0; anything else NaN.
double js_string_to_number(std::string_view s);
// Math.round: ties toward +infinity.
double js_round(double x);

// a < b in JavaScript order (UTF-16 code units).
int js_compare(std::string_view a, std::string_view b);

// String.prototype.toUpperCase / toLowerCase (full Unicode mappings, with final sigma), via ICU.
void append_upper(std::string& out, std::string_view s);
void append_lower(std::string& out, std::string_view s);

// HTML escaping as liquidjs' `escape`: & < > " ' become &amp; &lt; &gt; &#34; &#39;.
void append_html_escaped(std::string& out, std::string_view s);
// The contents of a JSON string literal, without the quotes.
void append_json_escaped(std::string& out, std::string_view s);

}  // namespace tp::templates::text
