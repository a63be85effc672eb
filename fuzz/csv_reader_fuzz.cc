// Fuzzes the CSV reader and the CSV import on top of it: no crash, positions always inside the
// input, and every row error names a line and column.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "ingest/csv.h"
#include "ingest/import.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  tp::ingest::CsvReader reader(text);
  std::vector<tp::ingest::CsvField> record;
  int lines = 1;
  for (char c : text) lines += c == '\n';
  while (true) {
    auto more = reader.next(record);
    if (!more.is_ok() || !*more) break;
    for (const auto& f : record)
      if (f.line < 1 || f.line > lines || f.column < 1) std::abort();
  }
  tp::ingest::ImportOptions options;
  options.format = tp::ingest::ImportFormat::kCsv;
  tp::ingest::ImportSink sink{[](tp::ingest::Message&&) {},
                              [](const tp::ingest::RowError& e) {
                                if (e.line < 1 || e.column < 1 || e.reason.empty()) std::abort();
                              }};
  (void)tp::ingest::read_import("fuzz.csv", text, options, tp::Timestamp{}, sink);
  return 0;
}
