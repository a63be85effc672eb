// Composing an email: one RFC 5322 / MIME message, ready for SMTP.
//
// compose_email() builds `multipart/alternative` (text/plain first, then text/html; a single
// part when only one of them is given), UTF-8 everywhere: RFC 2047 encoded-words (B) for
// non-ASCII subjects, display names and extra header values, quoted-printable bodies with
// output lines of at most 76 characters, CRLF line ends, header lines folded at 78 characters.
// The Message-ID is derived from the idempotency key, so composing the same message again (a
// retry) gives the same Message-ID. Commercial messages carry the RFC 8058 one-click
// unsubscribe headers. Addresses must be ASCII (no SMTPUTF8).
//
// Pure functions of their arguments (and the clock's now for `Date`); thread-safe.
// Errors: kInvalidArgument naming the field (`to[1].email`, `headers[0].name`, …).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "base/status.h"

namespace tp::channels {

struct EmailAddress {
  std::string email;         // addr-spec, ASCII: local@domain
  std::string display_name;  // UTF-8; empty for none
};

enum class EmailKind {
  kTransactional,  // receipts, password resets: no List-Unsubscribe required
  kCommercial,     // marketing: RFC 8058 one-click unsubscribe headers, URL required
};

struct EmailMessage {
  EmailAddress from;
  std::vector<EmailAddress> to;  // at least one; all become envelope recipients too
  std::optional<EmailAddress> reply_to;
  std::string subject;    // UTF-8, one line
  std::string preheader;  // UTF-8; hidden preview text put first in the HTML part
  std::string html;       // UTF-8; at least one of html / text
  std::string text;       // UTF-8
  // Extra header fields, in order ("X-Campaign", "spring-sale"). Values UTF-8, one line.
  // Fields this module writes itself (From, To, Subject, Date, Message-ID, MIME-Version,
  // Content-*, DKIM-Signature, List-Unsubscribe*, ...) are refused.
  std::vector<std::pair<std::string, std::string>> headers;
  // The Message-ID is derived from this key (message_id_for). Required unless message_id is set.
  std::string idempotency_key;
  // An explicit Message-ID ("<id@domain>" or "id@domain") instead of the derived one.
  std::string message_id;
  // Right-hand side of the derived Message-ID; empty: the domain of `from`.
  std::string message_id_domain;
  EmailKind kind = EmailKind::kTransactional;
  std::string unsubscribe_url;     // https://…: required for kCommercial (RFC 8058)
  std::string unsubscribe_mailto;  // "mailto:…" or a bare address; optional
};

struct ComposedEmail {
  std::string message_id;               // "<…@…>"
  std::string envelope_from;            // MAIL FROM
  std::vector<std::string> recipients;  // RCPT TO, one per `to`
  std::string data;                     // the whole message, CRLF line ends, ends in CRLF
};

// Builds the message. `clock` gives the Date header.
Result<ComposedEmail> compose_email(const EmailMessage& message, const Clock& clock);

// "<32 hex digits@domain>", a function of the key only (SHA-256 of it).
std::string message_id_for(std::string_view idempotency_key, std::string_view domain);

// Building blocks, exposed for tests.
//
// Quoted-printable (RFC 2045 6.7) of UTF-8 text whose line ends may be LF, CR or CRLF: hard
// line breaks become CRLF, output lines are at most 76 characters, trailing spaces and a
// leading '.' are encoded. The result ends in CRLF unless empty.
std::string encode_quoted_printable(std::string_view text);
// An unstructured header value: as is when it is printable ASCII, else a run of RFC 2047
// "=?UTF-8?B?…?=" words of at most 68 characters that never split a UTF-8 character.
std::string encode_header_text(std::string_view utf8);
// `Name <email>`, the name quoted or encoded as needed; just `email` without a name.
std::string format_address(const EmailAddress& address);
// RFC 5322 date-time in UTC: "Tue, 01 Jul 2025 10:00:00 +0000".
std::string format_email_date(Timestamp t);
// Whether `email` is an ASCII addr-spec we can send to (local@domain, no quoting).
bool valid_email_address(std::string_view email);
// `Name: value` + CRLF, folded at spaces so that lines stay within 78 characters when possible.
std::string fold_header(std::string_view name, std::string_view value);

}  // namespace tp::channels
