#include "base/json_text.h"

#include <cstdint>
#include <cstring>

namespace tp {

namespace {

// Whether any of the 8 bytes in `w` must be escaped: a control character (< 0x20), '"' or '\\'.
// The usual "has a zero byte" trick: a byte is flagged by the borrow of its own subtraction, so
// a flag can be wrong only above a byte that is truly flagged, which the exact loop then finds.
bool word_needs_escape(std::uint64_t w) {
  constexpr std::uint64_t kOnes = 0x0101010101010101ULL, kHigh = 0x8080808080808080ULL;
  auto has_zero = [](std::uint64_t v) { return (v - kOnes) & ~v & kHigh; };
  return ((w - 0x20 * kOnes) & ~w & kHigh) | has_zero(w ^ ('"' * kOnes)) | has_zero(w ^ ('\\' * kOnes));
}

}  // namespace

void append_json_string(std::string& out, std::string_view s) {
  static const char* kHex = "0123456789abcdef";
  out.reserve(out.size() + s.size() + 2);
  out.push_back('"');
  // Most strings (ids, names) need no escape: skip them 8 bytes at a time.
  size_t clean = 0;
  for (std::uint64_t w; clean + 8 <= s.size(); clean += 8) {
    std::memcpy(&w, s.data() + clean, 8);
    if (word_needs_escape(w)) break;
  }
  size_t start = 0;
  for (size_t i = clean; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + start, i - start);
    start = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        out += "\\u00";
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 15]);
    }
  }
  out.append(s.data() + start, s.size() - start);
  out.push_back('"');
}

std::string json_string(std::string_view s) {
  std::string out;
  append_json_string(out, s);
  return out;
}

}  // namespace tp
