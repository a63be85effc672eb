#include "base/json_text.h"

#include <gtest/gtest.h>

namespace tp {
namespace {

TEST(JsonText, Escapes) {
  EXPECT_EQ(json_string("plain"), "\"plain\"");
  EXPECT_EQ(json_string("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(json_string("l1\nl2\t\x01"), "\"l1\\nl2\\t\\u0001\"");
  EXPECT_EQ(json_string("Åsa ✓"), "\"Åsa ✓\"");
}

// Every byte at every position of a string long enough for the 8-byte scan: the same as escaping
// byte by byte.
TEST(JsonText, EscapesEveryByteWhereverItIs) {
  auto reference = [](const std::string& s) {
    std::string out = "\"";
    for (unsigned char c : s) {
      if (c == '"') out += "\\\"";
      else if (c == '\\') out += "\\\\";
      else if (c == '\n') out += "\\n";
      else if (c == '\r') out += "\\r";
      else if (c == '\t') out += "\\t";
      else if (c == '\b') out += "\\b";
      else if (c == '\f') out += "\\f";
      else if (c < 0x20) out += "\\u00" + std::string(1, "0123456789abcdef"[c >> 4]) + "0123456789abcdef"[c & 15];
      else out.push_back(static_cast<char>(c));
    }
    return out + "\"";
  };
  for (size_t at = 0; at < 24; ++at)
    for (int byte = 0; byte < 256; ++byte) {
      std::string s(24, 'a');
      s[at] = static_cast<char>(byte);
      ASSERT_EQ(json_string(s), reference(s)) << "byte " << byte << " at " << at;
      std::string appended = "x";
      append_json_string(appended, s);
      ASSERT_EQ(appended, "x" + reference(s));
    }
}

}  // namespace
}  // namespace tp
