#include "http/responses.h"

#include "base/json_text.h"
#include "ingest/parser.h"

namespace tp::http {

using beast_http::field;
using beast_http::status;

Response json_response(status code, std::string body) {
  Response res{code, 11};
  res.set(field::content_type, "application/json");
  res.set(field::server, "touchpoint");
  res.body() = std::move(body);
  return res;
}

Response error_response(status code, const std::string& message, const std::string& field_name) {
  std::string body = "{\"success\":false,\"error\":";
  append_json_string(body, message);
  if (!field_name.empty()) {
    body += ",\"field\":";
    append_json_string(body, field_name);
  }
  body.push_back('}');
  return json_response(code, std::move(body));
}

status http_status(const Status& s) {
  switch (s.code()) {
    case StatusCode::kOk: return status::ok;
    case StatusCode::kInvalidArgument: return status::bad_request;
    case StatusCode::kNotFound: return status::not_found;
    case StatusCode::kUnauthenticated: return status::unauthorized;
    case StatusCode::kTooLarge: return status::payload_too_large;
    case StatusCode::kUnavailable: return status::service_unavailable;
    case StatusCode::kInternal: return status::internal_server_error;
  }
  return status::internal_server_error;
}

Response status_response(const Status& s) {
  if (s.code() == StatusCode::kInternal) return error_response(status::internal_server_error, "internal error");
  return error_response(http_status(s), s.message(),
                        s.code() == StatusCode::kInvalidArgument ? ingest::error_field(s) : "");
}

}  // namespace tp::http
