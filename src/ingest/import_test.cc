#include "ingest/import.h"

#include <gtest/gtest.h>

#include "base/time_format.h"

namespace tp::ingest {
namespace {

const Timestamp kNow = *parse_iso8601("2026-11-24T10:00:00Z");

struct Collected {
  std::vector<Message> rows;
  std::vector<std::string> errors;  // "line:col: reason"
};

Collected run(std::string_view path, std::string_view text, ImportOptions options = {}) {
  Collected c;
  ImportSink sink{[&](Message&& m) { c.rows.push_back(std::move(m)); },
                  [&](const RowError& e) { c.errors.push_back(std::to_string(e.line) + ":" + std::to_string(e.column) + ": " + e.reason); }};
  Status s = read_import(path, text, options, kNow, sink);
  if (!s.is_ok()) c.errors.push_back(s.message());
  return c;
}

TEST(Import, CsvInfersTypesAndSkipsEmptyCells) {
  auto c = run("people.csv", "userId,age,vip,city,zip\nu1,31,true,Oslo,0150\nu2,40.5,false,,0151\n");
  ASSERT_TRUE(c.errors.empty()) << c.errors[0];
  ASSERT_EQ(c.rows.size(), 2u);
  const auto& t = c.rows[0].traits;
  ASSERT_EQ(t.size(), 4u);
  EXPECT_EQ(t[0].json, "31");
  EXPECT_EQ(t[1].json, "true");
  EXPECT_EQ(t[2].json, "\"Oslo\"");
  EXPECT_EQ(t[3].json, "\"0150\"");  // a leading zero keeps a postcode a string
  EXPECT_EQ(c.rows[1].traits.size(), 3u);  // empty city is not set
}

TEST(Import, DeclaredTypesAndBadRows) {
  ImportOptions o;
  o.types = *parse_type_list("zip:string,age:number");
  auto c = run("people.csv", "userId,age,zip\nu1,31,150\nu2,old,0151\n,3,1\nu4,5\n", o);
  ASSERT_EQ(c.rows.size(), 1u);
  EXPECT_EQ(c.rows[0].traits[1].json, "\"150\"");
  ASSERT_EQ(c.errors.size(), 3u);
  EXPECT_EQ(c.errors[0], "3:4: column \"age\": \"old\" is not a number");
  EXPECT_EQ(c.errors[1], "4:1: the id column \"userId\" is empty");
  EXPECT_EQ(c.errors[2], "5:4: the row has 2 fields; the header has 3");
}

TEST(Import, SameRowSameMessageId) {
  auto a = run("a.csv", "id,city\nu1,Oslo\n", ImportOptions{ImportFormat::kAuto, "id", {}});
  auto b = run("b.csv", "id,city\nu1,Oslo\n", ImportOptions{ImportFormat::kAuto, "id", {}});
  auto changed = run("b.csv", "id,city\nu1,Bergen\n", ImportOptions{ImportFormat::kAuto, "id", {}});
  EXPECT_EQ(a.rows.at(0).message_id, b.rows.at(0).message_id);
  EXPECT_NE(a.rows.at(0).message_id, changed.rows.at(0).message_id);
}

TEST(Import, FileLevelErrorsNamePathLineColumn) {
  EXPECT_EQ(run("p.csv", "email,city\nx,y\n").errors.at(0),
            "p.csv:1:1: no column \"userId\" in the header row; name the id column with --id-column");
  EXPECT_EQ(run("p.csv", "userId,city\nu1,\"open\n").errors.at(0), "p.csv:2:4: quoted field is not closed");
  EXPECT_EQ(run("p.txt", "x").errors.at(0), "p.txt: cannot tell the format from the file name; use --format csv|jsonl");
  EXPECT_FALSE(parse_type_list("age:integer").is_ok());
}

TEST(Import, JsonlLinesWithPositions) {
  auto c = run("export.jsonl",
               "{\"type\":\"track\",\"userId\":\"u1\",\"event\":\"A\",\"messageId\":\"m1\"}\n"
               "\n"
               "{\"type\":\"track\",\"userId\":\"u1\",\"event\":\n"
               "{\"type\":\"track\",\"event\":\"A\"}\n"
               "{\"type\":\"page\",\"anonymousId\":\"a\"}\n");
  ASSERT_EQ(c.rows.size(), 2u);
  EXPECT_EQ(c.rows[0].message_id, "m1");
  EXPECT_EQ(c.rows[1].message_id.rfind("import-", 0), 0u);
  ASSERT_EQ(c.errors.size(), 2u);
  EXPECT_EQ(c.errors[0], "3:39: body: not valid JSON at byte offset 38");
  EXPECT_EQ(c.errors[1], "4:1: userId: neither userId nor anonymousId is set; one is required");
}

}  // namespace
}  // namespace tp::ingest
