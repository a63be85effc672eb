#include "base/text.h"

#include <gtest/gtest.h>

namespace tp {
namespace {

TEST(EditDistance, Cases) {
  EXPECT_EQ(edit_distance("", ""), 0u);
  EXPECT_EQ(edit_distance("send", "send"), 0u);
  EXPECT_EQ(edit_distance("sned", "send"), 2u);
  EXPECT_EQ(edit_distance("wait_untl", "wait_until"), 1u);
  EXPECT_EQ(edit_distance("", "abc"), 3u);
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
}

TEST(AppendUtf8, EveryLength) {
  std::string out;
  for (char32_t cp : {U'A', U'é', U'€', U'😀'}) append_utf8(out, cp);
  EXPECT_EQ(out, "Aé€😀");
}

}  // namespace
}  // namespace tp
