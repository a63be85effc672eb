// Writing JSON text by hand on hot paths, where stored values are already JSON and building a
// DOM only to print it again would double the work.
#pragma once

#include <string>
#include <string_view>

namespace tp {

// Appends `s` as a JSON string literal (with quotes), escaping as RFC 8259 requires.
void append_json_string(std::string& out, std::string_view s);
std::string json_string(std::string_view s);

}  // namespace tp
