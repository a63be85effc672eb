// Small text helpers that several components need: edit distance (for "did you mean"
// suggestions in error messages) and UTF-8 encoding of one code point.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace tp {

// Levenshtein distance between a and b, in bytes.
size_t edit_distance(std::string_view a, std::string_view b);

// Appends `cp` encoded as UTF-8. The caller passes a valid scalar value (not a surrogate,
// <= U+10FFFF).
void append_utf8(std::string& out, char32_t cp);

}  // namespace tp
