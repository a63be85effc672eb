#include "ingest/import.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>

#include "base/crypto.h"
#include "base/json_text.h"
#include "base/time_format.h"
#include "ingest/csv.h"

namespace tp::ingest {
namespace {

bool is_integer(std::string_view v) {
  long long x;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
  return ec == std::errc() && p == v.data() + v.size();
}

// A leading zero ("0150", a postcode or phone number) keeps a value a string.
bool has_leading_zero(std::string_view v) {
  if (!v.empty() && v[0] == '-') v.remove_prefix(1);
  return v.size() > 1 && v[0] == '0' && v[1] != '.';
}

bool is_number(std::string_view v) {
  if (v.empty() || v[0] == '+' || has_leading_zero(v)) return false;
  double x;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
  return ec == std::errc() && p == v.data() + v.size() && std::isfinite(x);
}

bool is_boolean(std::string_view v) { return v == "true" || v == "false"; }

std::string_view type_label(TraitType t) {
  switch (t) {
    case TraitType::kNumber: return "number";
    case TraitType::kBoolean: return "boolean";
    default: return "string";
  }
}

// The type a column has when none is declared: the narrowest that fits every non-empty cell.
TraitType infer(const std::vector<std::vector<CsvField>>& rows, size_t column) {
  bool numbers = true, booleans = true, any = false;
  for (const auto& row : rows) {
    if (column >= row.size() || row[column].value.empty()) continue;
    any = true;
    numbers = numbers && is_number(row[column].value);
    booleans = booleans && is_boolean(row[column].value);
  }
  if (!any) return TraitType::kString;
  if (numbers) return TraitType::kNumber;
  if (booleans) return TraitType::kBoolean;
  return TraitType::kString;
}

// `v` passed is_number().
std::string number_json(std::string_view v) {
  if (is_integer(v)) return std::string(v);
  double x = 0;
  std::from_chars(v.data(), v.data() + v.size(), x);
  return fmt::format("{}", x);
}

Status read_csv(std::string_view path, std::string_view text, const ImportOptions& options, Timestamp now,
                const ImportSink& sink) {
  CsvReader reader(text);
  std::vector<CsvField> header;
  TP_ASSIGN(bool has_header, reader.next(header));
  if (!has_header) return invalid_argument(fmt::format("{}:1:1: the file is empty; expected a header row", path));
  size_t id_index = header.size();
  for (size_t i = 0; i < header.size(); ++i) {
    if (header[i].value.empty())
      return invalid_argument(fmt::format("{}:{}:{}: empty column name in the header row", path, header[i].line,
                                          header[i].column));
    if (header[i].value == options.id_column) id_index = i;
  }
  if (id_index == header.size())
    return invalid_argument(fmt::format("{}:1:1: no column {} in the header row; name the id column with --id-column",
                                        path, json_string(options.id_column)));
  for (const auto& [name, type] : options.types) {
    bool found = false;
    for (const auto& h : header) found = found || h.value == name;
    if (!found) return invalid_argument(fmt::format("--types: no column {} in {}", json_string(name), path));
  }

  std::vector<std::vector<CsvField>> rows;
  while (true) {
    std::vector<CsvField> row;
    auto more = reader.next(row);
    if (!more.is_ok()) return invalid_argument(fmt::format("{}:{}", path, more.status().message()));
    if (!*more) break;
    rows.push_back(std::move(row));
  }

  std::vector<TraitType> types(header.size());
  for (size_t c = 0; c < header.size(); ++c) {
    auto declared = options.types.find(header[c].value);
    types[c] = declared != options.types.end() && declared->second != TraitType::kAuto ? declared->second
                                                                                      : infer(rows, c);
  }

  for (const auto& row : rows) {
    int line = row.front().line;
    if (row.size() != header.size()) {
      sink.error({line, row.back().column,
                  fmt::format("the row has {} fields; the header has {}", row.size(), header.size())});
      continue;
    }
    const CsvField& id = row[id_index];
    if (id.value.empty()) {
      sink.error({id.line, id.column, fmt::format("the id column {} is empty", json_string(options.id_column))});
      continue;
    }
    Message m;
    m.type = MessageType::kIdentify;
    m.user_id = id.value;
    m.timestamp = now;
    m.received_at = now;
    std::string traits = "{";
    std::optional<RowError> bad;
    for (size_t c = 0; c < row.size() && !bad; ++c) {
      if (c == id_index || row[c].value.empty()) continue;
      const std::string& v = row[c].value;
      std::string json;
      switch (types[c]) {
        case TraitType::kNumber:
          if (!is_number(v)) bad = RowError{row[c].line, row[c].column, ""};
          else json = number_json(v);
          break;
        case TraitType::kBoolean:
          if (!is_boolean(v)) bad = RowError{row[c].line, row[c].column, ""};
          else json = v;
          break;
        default:
          json = json_string(v);
      }
      if (bad) {
        bad->reason = fmt::format("column {}: {} is not a {}", json_string(header[c].value), json_string(v),
                                  type_label(types[c]));
        break;
      }
      if (traits.size() > 1) traits.push_back(',');
      append_json_string(traits, header[c].value);
      traits.push_back(':');
      traits += json;
      m.traits.push_back({header[c].value, std::move(json)});
    }
    if (bad) {
      sink.error(*bad);
      continue;
    }
    traits.push_back('}');
    // The same row imported again gets the same messageId, and is ignored as a duplicate.
    std::string row_text = m.user_id + '\x1f' + traits;
    m.message_id = "import-" + hex_encode(sha256(row_text)).substr(0, 32);
    m.body = "{\"type\":\"identify\",\"messageId\":";
    append_json_string(m.body, m.message_id);
    m.body += ",\"userId\":";
    append_json_string(m.body, m.user_id);
    m.body += ",\"timestamp\":\"" + format_iso8601(now) + "\",\"receivedAt\":\"" + format_iso8601(now) +
              "\",\"traits\":" + traits + ",\"context\":{\"source\":\"import\"}}";
    sink.row(std::move(m));
  }
  return Status::ok();
}

Status read_jsonl(std::string_view text, Timestamp now, const ImportSink& sink) {
  int line = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view content = text.substr(pos, end - pos);
    pos = end + 1;
    ++line;
    if (!content.empty() && content.back() == '\r') content.remove_suffix(1);
    if (content.find_first_not_of(" \t") == std::string_view::npos) continue;
    auto m = parse_typed(content, now);
    if (m.is_ok()) {
      if (m->message_id.rfind("tp-", 0) == 0) {
        // No messageId in the export: derive one from the line so a re-import is idempotent.
        m->message_id = "import-" + hex_encode(sha256(content)).substr(0, 32);
      }
      sink.row(std::move(m).value());
      continue;
    }
    int column = 1;
    const std::string& msg = m.status().message();
    auto at = msg.find("at byte offset ");
    if (at != std::string::npos) column = std::atoi(msg.c_str() + at + 15) + 1;
    sink.error({line, column, msg});
  }
  return Status::ok();
}

}  // namespace

Result<std::map<std::string, TraitType>> parse_type_list(std::string_view text) {
  std::map<std::string, TraitType> out;
  while (!text.empty()) {
    auto comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    auto colon = item.find(':');
    if (colon == std::string_view::npos || colon == 0)
      return invalid_argument(fmt::format("--types: {} is not COLUMN:TYPE", json_string(item)));
    std::string_view type = item.substr(colon + 1);
    TraitType t;
    if (type == "string") t = TraitType::kString;
    else if (type == "number") t = TraitType::kNumber;
    else if (type == "boolean") t = TraitType::kBoolean;
    else return invalid_argument(fmt::format("--types: unknown type {} for column {}; use string, number or boolean",
                                             json_string(type), json_string(item.substr(0, colon))));
    out[std::string(item.substr(0, colon))] = t;
  }
  return out;
}

Status read_import(std::string_view path, std::string_view text, const ImportOptions& options, Timestamp now,
                   const ImportSink& sink) {
  ImportFormat format = options.format;
  if (format == ImportFormat::kAuto) {
    if (path.ends_with(".csv")) format = ImportFormat::kCsv;
    else if (path.ends_with(".jsonl") || path.ends_with(".ndjson") || path.ends_with(".json")) format = ImportFormat::kJsonl;
    else return invalid_argument(fmt::format("{}: cannot tell the format from the file name; use --format csv|jsonl", path));
  }
  if (format == ImportFormat::kCsv) return read_csv(path, text, options, now, sink);
  return read_jsonl(text, now, sink);
}

}  // namespace tp::ingest
