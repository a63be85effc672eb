// Small text helpers the channel adapters share: UTF-8 checks and decoding, and
// application/x-www-form-urlencoded encoding and decoding. Pure functions; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tp::channels {

// Whether `s` is well-formed UTF-8 (no overlongs, no surrogates, at most U+10FFFF).
bool valid_utf8(std::string_view s);
// Code points of `s`; each malformed byte becomes U+FFFD.
std::u32string decode_utf8(std::string_view s);

// Percent-encoding for form bodies and URL path segments: unreserved characters
// (A-Z a-z 0-9 - . _ ~) stay, everything else becomes %XX; in form mode a space becomes '+'.
enum class UrlEncoding { kForm, kPath };
std::string url_encode(std::string_view s, UrlEncoding mode);

// "a=1&b=x+y" -> {{"a","1"},{"b","x y"}}. nullopt when a %-escape is malformed.
std::optional<std::vector<std::pair<std::string, std::string>>> parse_form(std::string_view body);

}  // namespace tp::channels
