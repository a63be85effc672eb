#include "ingest/csv.h"

#include <gtest/gtest.h>

namespace tp::ingest {
namespace {

std::vector<std::vector<std::string>> read_all(std::string_view text) {
  CsvReader reader(text);
  std::vector<std::vector<std::string>> rows;
  std::vector<CsvField> record;
  while (true) {
    auto more = reader.next(record);
    EXPECT_TRUE(more.is_ok()) << more.status().message();
    if (!more.is_ok() || !*more) break;
    std::vector<std::string> row;
    for (auto& f : record) row.push_back(f.value);
    rows.push_back(row);
  }
  return rows;
}

TEST(Csv, QuotesSeparatorsAndLineEnds) {
  auto rows = read_all("\xEF\xBB\xBFid,name,note\r\n1,\"Lind, Åsa\",\"said \"\"hej\"\"\"\n2,Bo,\"two\nlines\"\n\n3,,\n");
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0], (std::vector<std::string>{"id", "name", "note"}));
  EXPECT_EQ(rows[1], (std::vector<std::string>{"1", "Lind, Åsa", "said \"hej\""}));
  EXPECT_EQ(rows[2], (std::vector<std::string>{"2", "Bo", "two\nlines"}));
  EXPECT_EQ(rows[3], (std::vector<std::string>{"3", "", ""}));
}

TEST(Csv, PositionsOfFields) {
  CsvReader reader("a,b\n\"x\ny\",zz\n");
  std::vector<CsvField> rec;
  ASSERT_TRUE(*reader.next(rec));
  ASSERT_TRUE(*reader.next(rec));
  EXPECT_EQ(reader.record_line(), 2);
  EXPECT_EQ(rec[1].line, 3);
  EXPECT_EQ(rec[1].column, 4);
}

TEST(Csv, ErrorsNameLineAndColumn) {
  struct Case {
    const char* text;
    const char* error;
  } cases[] = {
      {"a,b\n1,\"open\n", "2:3: quoted field is not closed"},
      {"a,b\n1,\"x\"y\n", "2:6: unexpected text after a closing quote; a quote inside a field must be doubled"},
      {"a,b\n1,x\"y\n", "2:4: quote inside an unquoted field; quote the whole field"},
  };
  for (const auto& c : cases) {
    CsvReader reader(c.text);
    std::vector<CsvField> rec;
    Status last;
    while (true) {
      auto r = reader.next(rec);
      if (!r.is_ok()) {
        last = r.status();
        break;
      }
      if (!*r) break;
    }
    EXPECT_EQ(last.message(), c.error) << c.text;
  }
}

}  // namespace
}  // namespace tp::ingest
