// Decoding what arrives over HTTP: gzip bodies, percent-encoded paths, query strings.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace tp::http {

// Inflates a gzip (or zlib) body. kTooLarge when the result would exceed `max_bytes`
// (so a small "zip bomb" cannot use up memory); kInvalidArgument when it is not valid gzip.
Result<std::string> gunzip(std::string_view body, size_t max_bytes);

// "%C3%85sa" -> "Åsa"; nullopt on a malformed escape. `plus_is_space` for query strings.
std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space = false);

// Splits "a=1&b=x%20y" into decoded pairs (the last one wins for a repeated name).
Result<std::map<std::string, std::string>> parse_query(std::string_view query);

}  // namespace tp::http
