// The differential corpus against the outputs liquidjs gave (testdata/expected/, written by
// `node testdata/liquidjs/liquidjs.mjs expected ...`): runs without node. The
// templates_differential test compares with a live liquidjs instead.
#include <gtest/gtest.h>

#include <map>
#include <regex>

#include "base/file.h"
#include "templates/corpus.h"
#include "templates/program.h"

namespace tp::templates::corpus {
namespace {

TEST(Corpus, MatchesLiquidjsOutputs) {
  auto cases = load("src/templates/testdata/corpus");
  ASSERT_TRUE(cases.is_ok()) << cases.status().message();
  EXPECT_GE(cases->size(), 150u);
  std::map<std::string, nlohmann::json> expected;
  int compared = 0;
  for (const auto& c : *cases) {
    if (!expected.count(c.file)) {
      auto text = read_file("src/templates/testdata/expected/" + c.file + ".json");
      ASSERT_TRUE(text.is_ok()) << text.status().message();
      expected[c.file] = nlohmann::json::parse(*text);
    }
    const nlohmann::json& want = expected[c.file];
    ASSERT_TRUE(want.contains(c.name)) << c.id << ": no expected output; regenerate testdata/expected";
    Outcome got = run(c);
    ++compared;
    if (want[c.name].is_string()) {
      EXPECT_TRUE(got.ok) << c.id << "\n  template: " << c.text << "\n  error: " << got.text;
      if (got.ok) {
        EXPECT_EQ(got.text, want[c.name].get<std::string>()) << c.id << "\n  template: " << c.text;
      }
    } else {
      EXPECT_FALSE(got.ok) << c.id << ": liquidjs fails on this case; we rendered " << got.text;
    }
  }
  EXPECT_EQ(compared, static_cast<int>(cases->size()));
}

// Every filter and every tag is in the corpus, so each is checked against liquidjs.
TEST(Corpus, CoversEveryFilterAndTag) {
  auto cases = load("src/templates/testdata/corpus");
  ASSERT_TRUE(cases.is_ok());
  std::string all;
  for (const auto& c : *cases) all += c.text + "\n";
  for (std::string_view name : filter_names()) {
    std::regex use("\\|\\s*" + std::string(name) + "\\b");
    EXPECT_TRUE(std::regex_search(all, use)) << "no corpus case uses the filter " << name;
  }
  for (const char* tag :
       {"if",    "elsif",  "else",    "unless",  "case", "when",      "for",       "break", "continue", "tablerow",
        "cycle", "assign", "capture", "comment", "raw",  "increment", "decrement", "echo",  "liquid",   "#"}) {
    std::regex use("(\\{%-?|\\n)\\s*" + std::regex_replace(std::string(tag), std::regex("#"), "\\#") + "[\\s%-]");
    EXPECT_TRUE(std::regex_search(all, use)) << "no corpus case uses the tag " << tag;
  }
}

}  // namespace
}  // namespace tp::templates::corpus
