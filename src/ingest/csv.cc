#include "ingest/csv.h"

#include <fmt/format.h>

namespace tp::ingest {

CsvReader::CsvReader(std::string_view text, char separator) : text_(text), separator_(separator) {
  if (text_.substr(0, 3) == "\xEF\xBB\xBF") pos_ = 3;
}

void CsvReader::advance() {
  if (text_[pos_] == '\n') {
    ++line_;
    column_ = 1;
  } else {
    ++column_;
  }
  ++pos_;
}

Result<bool> CsvReader::next(std::vector<CsvField>& record) {
  record.clear();
  // Skip blank lines between records.
  while (pos_ < text_.size() && (peek() == '\n' || peek() == '\r')) advance();
  if (pos_ >= text_.size()) return false;
  record_line_ = line_;
  while (true) {
    CsvField field{std::string(), line_, column_};
    if (pos_ < text_.size() && peek() == '"') {
      int quote_line = line_, quote_col = column_;
      advance();
      while (true) {
        if (pos_ >= text_.size())
          return invalid_argument(fmt::format("{}:{}: quoted field is not closed", quote_line, quote_col));
        char c = peek();
        if (c == '"') {
          advance();
          if (pos_ < text_.size() && peek() == '"') {
            field.value.push_back('"');
            advance();
            continue;
          }
          break;
        }
        field.value.push_back(c);
        advance();
      }
      if (pos_ < text_.size() && peek() != separator_ && peek() != '\n' && peek() != '\r')
        return invalid_argument(
            fmt::format("{}:{}: unexpected text after a closing quote; a quote inside a field must be doubled",
                        line_, column_));
    } else {
      while (pos_ < text_.size() && peek() != separator_ && peek() != '\n' && peek() != '\r') {
        if (peek() == '"')
          return invalid_argument(
              fmt::format("{}:{}: quote inside an unquoted field; quote the whole field", line_, column_));
        field.value.push_back(peek());
        advance();
      }
    }
    record.push_back(std::move(field));
    if (pos_ >= text_.size()) return true;
    if (peek() == separator_) {
      advance();
      continue;
    }
    // End of record: CRLF or LF (a lone CR too).
    if (peek() == '\r') advance();
    if (pos_ < text_.size() && peek() == '\n') advance();
    return true;
  }
}

}  // namespace tp::ingest
