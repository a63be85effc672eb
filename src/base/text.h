// Small text helpers that several components need: edit distance (for "did you mean"
// suggestions in error messages), UTF-8 encoding of one code point, HTML escaping.
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

// Text for HTML content or a quoted attribute: & < > " ' become &amp; &lt; &gt; &quot; &#39;.
// (Templates' `escape` filter has its own, liquidjs-exact variant.)
std::string escape_html(std::string_view text);

}  // namespace tp
