// Bulk import: a CSV of people (one row per person, a header row) or a JSONL export of
// Segment/RudderStack messages, turned into messages for the profile writer.
//
// Idempotent: every row gets a messageId derived from its content, so importing the same file
// again stores nothing new.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "base/clock.h"
#include "base/status.h"
#include "ingest/message.h"
#include "ingest/parser.h"

namespace tp::ingest {

enum class ImportFormat { kAuto, kCsv, kJsonl };
enum class TraitType { kAuto, kString, kNumber, kBoolean };

struct ImportOptions {
  ImportFormat format = ImportFormat::kAuto;  // kAuto: by file extension
  std::string id_column = "userId";           // CSV: the column that holds the userId
  std::map<std::string, TraitType> types;     // CSV: declared column types; others inferred
};

// Parses "age:number,vip:boolean,zip:string" (the --types flag).
Result<std::map<std::string, TraitType>> parse_type_list(std::string_view text);

struct RowError {
  int line = 0;
  int column = 0;
  std::string reason;
};

struct ImportSink {
  std::function<void(Message&&)> row;         // a valid row, in file order
  std::function<void(const RowError&)> error;  // a bad row
};

// Reads all of `text` (the contents of `path`). A problem with the file as a whole (unknown
// format, missing id column, unreadable CSV structure) is returned as an error naming
// path:line:col; problems with single rows go to `sink.error`.
Status read_import(std::string_view path, std::string_view text, const ImportOptions& options, Timestamp now,
                   const ImportSink& sink);

}  // namespace tp::ingest
