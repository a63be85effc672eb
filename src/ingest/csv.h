// An RFC 4180 CSV reader that knows where every field starts (line and column, 1-based), so
// import errors can say `file:line:col`. Quoted fields may hold separators, doubled quotes and
// line breaks; CRLF and LF line ends and a UTF-8 byte-order mark are accepted.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace tp::ingest {

struct CsvField {
  std::string value;
  int line = 0;
  int column = 0;
};

class CsvReader {
 public:
  // `text` must outlive the reader.
  explicit CsvReader(std::string_view text, char separator = ',');

  // Reads the next record into `record`. Returns false at the end of input. Errors name
  // "line:col" (e.g. an unterminated quote, or text after a closing quote).
  Result<bool> next(std::vector<CsvField>& record);

  // 1-based line on which the last record returned started.
  int record_line() const { return record_line_; }

 private:
  char peek() const { return text_[pos_]; }
  void advance();

  std::string_view text_;
  char separator_;
  size_t pos_ = 0;
  int line_ = 1;
  int column_ = 1;
  int record_line_ = 0;
};

}  // namespace tp::ingest
