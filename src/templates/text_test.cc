#include "templates/text.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace tp::templates::text {
namespace {

TEST(Text, NumbersPrintAsJavaScript) {
  struct Case {
    double value;
    const char* text;
  } cases[] = {
      {0, "0"},
      {-0.0, "0"},
      {1, "1"},
      {-42, "-42"},
      {3.0, "3"},
      {0.1, "0.1"},
      {0.30000000000000004, "0.30000000000000004"},
      {1e21, "1e+21"},
      {1.5e-7, "1.5e-7"},
      {0.000001, "0.000001"},
      {123456789012345680000.0, "123456789012345680000"},
      {3.3333333333333335, "3.3333333333333335"},
      {1e-7, "1e-7"},
      {-1.25e30, "-1.25e+30"},
      {9007199254740993.0, "9007199254740992"},
      {std::numeric_limits<double>::infinity(), "Infinity"},
      {-std::numeric_limits<double>::infinity(), "-Infinity"},
      {std::nan(""), "NaN"},
      {100, "100"},
      {1.005, "1.005"},
      {5e-324, "5e-324"},
  };
  for (const auto& c : cases) EXPECT_EQ(js_number(c.value), c.text) << c.text;
}

TEST(Text, StringsToNumbersAsJavaScript) {
  struct Case {
    const char* text;
    double value;
  } cases[] = {
      {"", 0},
      {"  ", 0},
      {"12", 12},
      {" 12 ", 12},
      {"-1.5", -1.5},
      {"+3", 3},
      {".5", 0.5},
      {"5.", 5},
      {"1e3", 1000},
      {"0x1A", 26},
      {"0b101", 5},
      {"0o17", 15},
      {"Infinity", std::numeric_limits<double>::infinity()},
      {"-Infinity", -std::numeric_limits<double>::infinity()},
      {"1e400", std::numeric_limits<double>::infinity()},
      {"\xC2\xA0"
       "7\n",
       7},
  };
  for (const auto& c : cases) EXPECT_EQ(js_string_to_number(c.text), c.value) << c.text;
  for (const char* bad : {"abc", "1a", "0x", "--1", "1e", "e5", "inf", "nan", "1,5", "-0x10", "."})
    EXPECT_TRUE(std::isnan(js_string_to_number(bad))) << bad;
}

TEST(Text, LengthsAndOrderFollowUtf16) {
  EXPECT_EQ(utf16_length("héllo"), 5u);
  EXPECT_EQ(utf16_length("😀"), 2u);
  EXPECT_EQ(code_point_count("😀é"), 2u);
  EXPECT_LT(js_compare("a", "b"), 0);
  EXPECT_LT(js_compare("B", "a"), 0);
  EXPECT_LT(js_compare("ab", "abc"), 0);
  EXPECT_EQ(js_compare("é", "é"), 0);
  // U+FF5E sorts after U+1F600 in UTF-8 bytes, before it in UTF-16 units.
  EXPECT_GT(js_compare("\xEF\xBD\x9E", "\xF0\x9F\x98\x80"), 0);
}

TEST(Text, CaseMappingIsFullUnicode) {
  std::string s;
  append_upper(s, "straße");
  EXPECT_EQ(s, "STRASSE");
  s.clear();
  append_lower(s, "ΣΑΣ");
  EXPECT_EQ(s, "σας");
  s.clear();
  append_lower(s, "ÉCOLE");
  EXPECT_EQ(s, "école");
}

TEST(Text, Escapes) {
  std::string s;
  append_html_escaped(s, "<a href=\"x\">Tom & Jerry's</a>");
  EXPECT_EQ(s, "&lt;a href=&#34;x&#34;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;");
  s.clear();
  append_json_escaped(s, "say \"hi\"\n\\ \x01");
  EXPECT_EQ(s, "say \\\"hi\\\"\\n\\\\ \\u0001");
}

TEST(Text, Whitespace) {
  EXPECT_EQ(js_trim("\xE3\x80\x80 a b\t\xEF\xBB\xBF"), "a b");
  EXPECT_TRUE(is_markup_blank(0xA0));
  EXPECT_FALSE(is_markup_blank(0xFEFF));
  EXPECT_TRUE(is_js_space(0xFEFF));
  EXPECT_TRUE(is_word(U'é'));
  EXPECT_TRUE(is_word('-'));
  EXPECT_FALSE(is_word(0x201C));
  EXPECT_FALSE(valid_utf8("\xC3"));
  EXPECT_TRUE(valid_utf8("h\xC3\xA9"));
}

}  // namespace
}  // namespace tp::templates::text
