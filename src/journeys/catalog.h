// The journey catalogue (the specification sheet teams keep in Excel, seed 000) and the flow as
// a picture (Graphviz dot or Mermaid).
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "journeys/definition.h"

namespace tp::journeys {

enum class CatalogFormat { kCsv, kMarkdown, kXlsx };
enum class GraphFormat { kDot, kMermaid };

// The column headers, in order.
const std::vector<std::string>& catalog_columns();
// One row per journey, sorted by priority then id; values as the columns name them.
std::vector<std::vector<std::string>> catalog_rows(const std::vector<Journey>& journeys);

// CSV (RFC 4180) or Markdown as text.
std::string render_catalog_text(const std::vector<Journey>& journeys, CatalogFormat format);
// A real .xlsx workbook written to `path` (libxlsxwriter).
Status write_catalog_xlsx(const std::vector<Journey>& journeys, const std::string& path);

std::string render_graph(const Journey& journey, GraphFormat format);

}  // namespace tp::journeys
