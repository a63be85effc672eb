#include "journeys/catalog.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "journeys/loader.h"

namespace tp::journeys {
namespace {

std::vector<Journey> seeds() {
  std::vector<Problem> problems;
  auto ws = load_workspace("examples/journeys", problems);
  EXPECT_TRUE(problems.empty());
  return std::move(ws)->journeys;
}

TEST(Catalog, CsvHasOneRowPerJourneyWithEverySpecField) {
  std::string csv = render_catalog_text(seeds(), CatalogFormat::kCsv);
  EXPECT_EQ(csv.substr(0, csv.find("\r\n")),
            "Priority,ID,Name,Send type,Purpose,Goal,Audience,Entry criteria,Re-entry,Exit criteria,Data source,"
            "Follow-up,Owner,Status,Steps,Version");
  EXPECT_NE(csv.find("\r\n1,conversion-from-web,Conversion from web,commercial,Turn a whitepaper download into a sales "
                     "meeting,A sales meeting is booked,Everyone who fills in a form on the website,A web form is "
                     "submitted,one per properties.form,,"
                     "\"Website form (Segment track \"\"Form Submitted\"\")\","),
            std::string::npos)
      << csv;
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 4);
  std::string md = render_catalog_text(seeds(), CatalogFormat::kMarkdown);
  EXPECT_NE(md.find("| 2 | win-back | Win-back after cancellation | commercial |"), std::string::npos) << md;
}

TEST(Catalog, XlsxIsAWorkbook) {
  auto path = std::filesystem::temp_directory_path() / "tp-catalog-test.xlsx";
  ASSERT_TRUE(write_catalog_xlsx(seeds(), path.string()).is_ok());
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(bytes.substr(0, 2), "PK");  // an OOXML zip package
  EXPECT_NE(bytes.find("xl/worksheets/sheet1.xml"), std::string::npos);
  std::filesystem::remove(path);
}

TEST(Graph, EdgesForEveryOutcome) {
  auto journeys = seeds();
  std::string dot = render_graph(journeys[0], GraphFormat::kDot);
  EXPECT_NE(dot.find("\"wait-for-open\" -> \"reminder\" [label=\"timeout\"];"), std::string::npos) << dot;
  EXPECT_NE(dot.find("\"wait-for-open\" -> \"after-open\" [label=\"Email Opened\"];"), std::string::npos);
  EXPECT_NE(dot.find("\"call-task\" -> \"(exit)\";"), std::string::npos);
  std::string mermaid = render_graph(journeys[1], GraphFormat::kMermaid);
  EXPECT_NE(mermaid.find("s_usage_check -->|else| s_tips"), std::string::npos) << mermaid;
}

}  // namespace
}  // namespace tp::journeys
