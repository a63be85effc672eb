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

}  // namespace
}  // namespace tp
