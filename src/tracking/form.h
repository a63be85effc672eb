// Form bodies of the consent pages and of RFC 8058 one-click unsubscribes: the fields of an
// application/x-www-form-urlencoded or multipart/form-data body (RFC 8058 allows both).
//
// Pure functions; thread-safe. Errors: kInvalidArgument saying what is wrong with the body.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace tp::tracking {

// Name/value pairs in body order; a name may repeat (checkboxes).
using FormFields = std::vector<std::pair<std::string, std::string>>;

enum class FormEncoding { kUrlEncoded, kMultipart, kUnsupported };

// The encoding named by a Content-Type header value; an empty header counts as URL-encoded
// (some one-click senders omit it). `boundary` receives the multipart boundary.
FormEncoding form_encoding(std::string_view content_type, std::string* boundary);

// WHATWG application/x-www-form-urlencoded parsing: '&'-separated, '+' is a space, %XX decoded,
// a '%' not followed by two hex digits kept as is.
FormFields parse_urlencoded(std::string_view body);

// RFC 7578 multipart/form-data: each part's name from Content-Disposition; file parts are kept
// like other fields. Errors when the boundary never appears or a part has no name.
Result<FormFields> parse_multipart(std::string_view body, std::string_view boundary);

// Dispatches on the Content-Type; kInvalidArgument for an unsupported type.
Result<FormFields> parse_form(std::string_view content_type, std::string_view body);

// The first value of `name`, if any.
std::optional<std::string> form_value(const FormFields& fields, std::string_view name);

}  // namespace tp::tracking
