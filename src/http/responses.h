// JSON responses shared by the API's handlers: success bodies, errors that name the field, and
// Status to HTTP status mapping. Internal to http/.
#pragma once

#include <string>

#include "base/status.h"
#include "http/server.h"

namespace tp::http {

Response json_response(beast_http::status code, std::string body);
// {"success":false,"error":message[,"field":field_name]}
Response error_response(beast_http::status code, const std::string& message, const std::string& field_name = "");
beast_http::status http_status(const Status& s);
// Internal details (SQL, paths) stay in the log; the client learns what it can act on.
Response status_response(const Status& s);

}  // namespace tp::http
