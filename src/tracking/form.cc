#include "tracking/form.h"

#include <fmt/format.h>

namespace tp::tracking {
namespace {

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

std::string lowercase(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lower(c);
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = lower(c);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

std::string decode_component(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out.push_back(' ');
    } else if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// The value of parameter `name` in a header value like `form-data; name="x"; filename=y`.
std::optional<std::string> header_parameter(std::string_view value, std::string_view name) {
  size_t i = value.find(';');
  while (i != std::string_view::npos && i < value.size()) {
    ++i;
    while (i < value.size() && (value[i] == ' ' || value[i] == '\t')) ++i;
    size_t eq = value.find('=', i);
    if (eq == std::string_view::npos) return std::nullopt;
    std::string key = lowercase(trim(value.substr(i, eq - i)));
    size_t v = eq + 1;
    std::string parsed;
    size_t next;
    if (v < value.size() && value[v] == '"') {
      size_t k = v + 1;
      while (k < value.size() && value[k] != '"') {
        if (value[k] == '\\' && k + 1 < value.size()) ++k;
        parsed.push_back(value[k]);
        ++k;
      }
      if (k >= value.size()) return std::nullopt;  // unterminated quote
      next = value.find(';', k + 1);
    } else {
      next = value.find(';', v);
      parsed = std::string(trim(value.substr(v, next == std::string_view::npos ? std::string_view::npos : next - v)));
    }
    if (key == name) return parsed;
    i = next;
  }
  return std::nullopt;
}

}  // namespace

FormEncoding form_encoding(std::string_view content_type, std::string* boundary) {
  std::string type = lowercase(trim(content_type.substr(0, content_type.find(';'))));
  if (type.empty() || type == "application/x-www-form-urlencoded") return FormEncoding::kUrlEncoded;
  if (type == "multipart/form-data") {
    auto b = header_parameter(content_type, "boundary");
    if (!b || b->empty() || b->size() > 70) return FormEncoding::kUnsupported;
    if (boundary) *boundary = *b;
    return FormEncoding::kMultipart;
  }
  return FormEncoding::kUnsupported;
}

FormFields parse_urlencoded(std::string_view body) {
  FormFields fields;
  size_t start = 0;
  while (start <= body.size()) {
    size_t amp = body.find('&', start);
    std::string_view pair = body.substr(start, amp == std::string_view::npos ? std::string_view::npos : amp - start);
    if (!pair.empty()) {
      size_t eq = pair.find('=');
      std::string_view name = pair.substr(0, eq);
      std::string_view value = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
      fields.emplace_back(decode_component(name), decode_component(value));
    }
    if (amp == std::string_view::npos) break;
    start = amp + 1;
  }
  return fields;
}

Result<FormFields> parse_multipart(std::string_view body, std::string_view boundary) {
  const std::string delimiter = "--" + std::string(boundary);
  FormFields fields;
  size_t at = body.find(delimiter);
  if (at == std::string_view::npos) return invalid_argument("form: the multipart boundary does not occur in the body");
  while (true) {
    size_t after = at + delimiter.size();
    if (body.compare(after, 2, "--") == 0) return fields;  // the close delimiter
    size_t line_end = body.find('\n', after);
    if (line_end == std::string_view::npos) return invalid_argument("form: a multipart part is cut off");
    size_t headers_begin = line_end + 1;
    // Headers end at an empty line (CRLF CRLF; a bare LF is tolerated).
    size_t headers_end = std::string_view::npos;
    size_t content_begin = 0;
    for (size_t k = headers_begin; k < body.size();) {
      size_t eol = body.find('\n', k);
      if (eol == std::string_view::npos) break;
      std::string_view line = body.substr(k, eol - k);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.empty()) {
        headers_end = k;
        content_begin = eol + 1;
        break;
      }
      k = eol + 1;
    }
    if (headers_end == std::string_view::npos) return invalid_argument("form: a multipart part has no end of headers");
    std::optional<std::string> name;
    std::string_view headers = body.substr(headers_begin, headers_end - headers_begin);
    size_t k = 0;
    while (k < headers.size()) {
      size_t eol = headers.find('\n', k);
      std::string_view line = headers.substr(k, eol == std::string_view::npos ? std::string_view::npos : eol - k);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      size_t colon = line.find(':');
      if (colon != std::string_view::npos && lowercase(trim(line.substr(0, colon))) == "content-disposition")
        name = header_parameter(line.substr(colon + 1), "name");
      if (eol == std::string_view::npos) break;
      k = eol + 1;
    }
    if (!name) return invalid_argument("form: a multipart part has no Content-Disposition name");
    size_t next = body.find("\n" + delimiter, content_begin > 0 ? content_begin - 1 : 0);
    if (next == std::string_view::npos) return invalid_argument("form: a multipart part is cut off");
    size_t content_end = next;
    if (content_end > content_begin && body[content_end - 1] == '\r') --content_end;
    if (content_end < content_begin) content_end = content_begin;
    fields.emplace_back(*name, std::string(body.substr(content_begin, content_end - content_begin)));
    at = next + 1;
  }
}

Result<FormFields> parse_form(std::string_view content_type, std::string_view body) {
  std::string boundary;
  switch (form_encoding(content_type, &boundary)) {
    case FormEncoding::kUrlEncoded:
      return parse_urlencoded(body);
    case FormEncoding::kMultipart:
      return parse_multipart(body, boundary);
    case FormEncoding::kUnsupported:
      break;
  }
  return invalid_argument(
      fmt::format("form: Content-Type '{}' is not application/x-www-form-urlencoded or "
                  "multipart/form-data with a boundary",
                  content_type.substr(0, 100)));
}

std::optional<std::string> form_value(const FormFields& fields, std::string_view name) {
  for (const auto& [n, v] : fields)
    if (n == name) return v;
  return std::nullopt;
}

}  // namespace tp::tracking
