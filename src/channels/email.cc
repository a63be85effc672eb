#include "channels/email.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>

#include "base/crypto.h"
#include "base/text.h"
#include "channels/text.h"

namespace tp::channels {
namespace {

constexpr size_t kMaxEncodedWordBytes = 42;  // 56 base64 chars: "=?UTF-8?B?" + 56 + "?=" = 68
constexpr size_t kFoldAt = 78;               // RFC 5322 2.1.1: SHOULD
constexpr size_t kMaxLine = 998;             // RFC 5322 2.1.1: MUST
constexpr size_t kMaxUrl = 900;

// Header fields compose_email writes itself: callers may not add or override them.
constexpr std::array<std::string_view, 18> kReservedHeaders = {"from",
                                                               "to",
                                                               "cc",
                                                               "bcc",
                                                               "reply-to",
                                                               "subject",
                                                               "date",
                                                               "message-id",
                                                               "mime-version",
                                                               "content-type",
                                                               "content-transfer-encoding",
                                                               "dkim-signature",
                                                               "list-unsubscribe",
                                                               "list-unsubscribe-post",
                                                               "sender",
                                                               "return-path",
                                                               "received",
                                                               "content-disposition"};

bool is_atext(unsigned char c) {
  return std::isalnum(c) ||
         std::string_view("!#$%&'*+-/=?^_`{|}~").find(static_cast<char>(c)) != std::string_view::npos;
}

bool printable_ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
}

bool has_line_break(std::string_view s) { return s.find_first_of("\r\n") != std::string_view::npos; }

// Length in bytes of the UTF-8 character starting with `lead` (1 for stray bytes).
size_t utf8_length(unsigned char lead) {
  if (lead >= 0xf0) return 4;
  if (lead >= 0xe0) return 3;
  if (lead >= 0xc0) return 2;
  return 1;
}

// The preheader goes first inside <body>: mail clients show it as the preview line, the
// styles keep it out of the rendered message.
std::string with_preheader(std::string_view html, std::string_view preheader) {
  if (preheader.empty()) return std::string(html);
  std::string block = fmt::format(
      "<div style=\"display:none;font-size:1px;line-height:1px;max-height:0;max-width:0;"
      "opacity:0;overflow:hidden;mso-hide:all\">{}</div>",
      escape_html(preheader));
  std::string lower(html);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  size_t body = lower.find("<body");
  size_t at = 0;
  if (body != std::string::npos) {
    size_t close = lower.find('>', body);
    if (close != std::string::npos) at = close + 1;
  }
  std::string out(html.substr(0, at));
  out += block;
  out += html.substr(at);
  return out;
}

Status check_text(std::string_view field, std::string_view value, bool one_line) {
  if (!valid_utf8(value)) return invalid_argument(fmt::format("{}: not valid UTF-8", field));
  if (one_line && has_line_break(value))
    return invalid_argument(fmt::format("{}: must be one line (contains a line break)", field));
  return Status::ok();
}

Status check_address(std::string_view field, const EmailAddress& a) {
  if (!valid_email_address(a.email))
    return invalid_argument(fmt::format("{}.email: '{}' is not a valid ASCII email address", field,
                                        printable_ascii(a.email) && a.email.size() < 200 ? a.email : "…"));
  return check_text(fmt::format("{}.display_name", field), a.display_name, true);
}

std::string domain_of(std::string_view email) {
  size_t at = email.rfind('@');
  return std::string(at == std::string_view::npos ? email : email.substr(at + 1));
}

std::string normalise_message_id(std::string_view id) {
  if (!id.empty() && id.front() == '<') return std::string(id);
  return fmt::format("<{}>", id);
}

bool valid_message_id(std::string_view id) {
  // "<" id-left "@" id-right ">", dot-atom-ish, printable without spaces.
  if (id.size() < 5 || id.front() != '<' || id.back() != '>') return false;
  std::string_view inner = id.substr(1, id.size() - 2);
  size_t at = inner.find('@');
  if (at == 0 || at == std::string_view::npos || at + 1 == inner.size()) return false;
  return std::all_of(inner.begin(), inner.end(), [](char c) { return c > 0x20 && c < 0x7f && c != '<' && c != '>'; });
}

bool valid_url_text(std::string_view url) {
  return url.size() <= kMaxUrl && std::all_of(url.begin(), url.end(), [](char c) {
           return c > 0x20 && c < 0x7f && c != '<' && c != '>' && c != ',';
         });
}

}  // namespace

bool valid_email_address(std::string_view email) {
  size_t at = email.rfind('@');
  if (at == std::string_view::npos || at == 0 || at > 64 || at + 1 >= email.size() || email.size() > 254) return false;
  std::string_view local = email.substr(0, at), domain = email.substr(at + 1);
  // Dot-atom local part: atext runs separated by single dots.
  if (local.front() == '.' || local.back() == '.' || local.find("..") != std::string_view::npos) return false;
  for (unsigned char c : local)
    if (c != '.' && !is_atext(c)) return false;
  if (domain.front() == '.' || domain.back() == '.' || domain.front() == '-' ||
      domain.find("..") != std::string_view::npos)
    return false;
  for (unsigned char c : domain)
    if (!std::isalnum(c) && c != '.' && c != '-') return false;
  return true;
}

std::string message_id_for(std::string_view idempotency_key, std::string_view domain) {
  std::string digest = sha256(std::string("touchpoint-message-id:") + std::string(idempotency_key));
  return fmt::format("<{}@{}>", hex_encode(digest).substr(0, 32), domain);
}

std::string encode_quoted_printable(std::string_view text) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size() + text.size() / 8 + 8);
  size_t column = 0;
  auto soft_break = [&] {
    out += "=\r\n";
    column = 0;
  };
  auto put = [&](std::string_view token) {
    if (column + token.size() > 75) soft_break();  // leaves room for the '=' of a soft break
    out += token;
    column += token.size();
  };
  auto encoded = [&](unsigned char c) {
    char token[3] = {'=', kHex[c >> 4], kHex[c & 15]};
    put(std::string_view(token, 3));
  };
  size_t i = 0;
  while (i < text.size()) {
    // One input line: [i, end).
    size_t end = text.find_first_of("\r\n", i);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(i, end - i);
    for (size_t k = 0; k < line.size(); ++k) {
      unsigned char c = static_cast<unsigned char>(line[k]);
      bool last = k + 1 == line.size();
      if (c == '=' || c > 0x7e || (c < 0x20 && c != '\t')) {
        encoded(c);
      } else if ((c == ' ' || c == '\t') && last) {
        encoded(c);  // trailing whitespace would be stripped in transit
      } else if (c == '.' && (column == 0 || column + 1 > 75)) {
        encoded(c);  // a '.' alone at a line start means end-of-data to SMTP
      } else {
        char ch = static_cast<char>(c);
        put(std::string_view(&ch, 1));
      }
    }
    out += "\r\n";  // a hard line break; the last line gets one too
    column = 0;
    if (end == text.size()) break;
    // One line break: CRLF, CR or LF.
    i = end + ((text[end] == '\r' && end + 1 < text.size() && text[end + 1] == '\n') ? 2 : 1);
  }
  return out;
}

std::string encode_header_text(std::string_view utf8) {
  bool plain = printable_ascii(utf8) && utf8.find("=?") == std::string_view::npos;
  if (plain) {
    // Words longer than a line cannot be folded: send those encoded.
    size_t word = 0;
    for (char c : utf8) {
      word = c == ' ' ? 0 : word + 1;
      if (word > kFoldAt - 10) plain = false;
    }
  }
  if (plain) return std::string(utf8);
  std::string out;
  size_t i = 0;
  while (i < utf8.size()) {
    size_t n = 0;
    while (i + n < utf8.size()) {
      size_t len = utf8_length(static_cast<unsigned char>(utf8[i + n]));
      if (n + len > kMaxEncodedWordBytes) break;
      n += len;
    }
    if (n == 0) n = std::min(kMaxEncodedWordBytes, utf8.size() - i);  // cannot happen with valid UTF-8
    if (!out.empty()) out += ' ';
    out += "=?UTF-8?B?";
    out += base64_encode(utf8.substr(i, n));
    out += "?=";
    i += n;
  }
  return out;
}

std::string format_address(const EmailAddress& address) {
  if (address.display_name.empty()) return address.email;
  const std::string& name = address.display_name;
  std::string phrase;
  bool atoms = std::all_of(name.begin(), name.end(), [](unsigned char c) { return c == ' ' || is_atext(c); });
  if (!printable_ascii(name)) {
    phrase = encode_header_text(name);
  } else if (atoms && name.front() != ' ' && name.back() != ' ' && name.find("=?") == std::string::npos) {
    phrase = name;
  } else {
    phrase = "\"";  // a quoted-string; encoded-words inside quotes are not decoded, as intended
    for (char c : name) {
      if (c == '"' || c == '\\') phrase += '\\';
      phrase += c;
    }
    phrase += '"';
  }
  return fmt::format("{} <{}>", phrase, address.email);
}

std::string format_email_date(Timestamp t) {
  using namespace std::chrono;
  auto day = floor<days>(t);
  year_month_day ymd{day};
  hh_mm_ss hms{floor<seconds>(t - day)};
  static const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  return fmt::format("{}, {:02} {} {:04} {:02}:{:02}:{:02} +0000", kDays[weekday{day}.c_encoding()],
                     static_cast<unsigned>(ymd.day()), kMonths[static_cast<unsigned>(ymd.month()) - 1],
                     static_cast<int>(ymd.year()), hms.hours().count(), hms.minutes().count(), hms.seconds().count());
}

std::string fold_header(std::string_view name, std::string_view value) {
  std::string line = fmt::format("{}: {}", name, value);
  std::string out;
  size_t start = 0;  // start of the current output line within `line`
  while (line.size() - start > kFoldAt) {
    // Last space within the limit (not the one right after the colon), else the first after it.
    size_t min = start == 0 ? name.size() + 2 : start + 1;
    size_t cut = line.rfind(' ', start + kFoldAt);
    if (cut == std::string::npos || cut < min) cut = line.find(' ', start + kFoldAt);
    if (cut == std::string::npos || cut < min) break;
    out.append(line, start, cut - start);
    out += "\r\n";
    start = cut;  // the space begins the continuation line
  }
  out.append(line, start);
  out += "\r\n";
  return out;
}

Result<ComposedEmail> compose_email(const EmailMessage& m, const Clock& clock) {
  TP_TRY(check_address("from", m.from));
  if (m.to.empty()) return invalid_argument("to: at least one recipient is required");
  for (size_t i = 0; i < m.to.size(); ++i) TP_TRY(check_address(fmt::format("to[{}]", i), m.to[i]));
  if (m.reply_to) TP_TRY(check_address("reply_to", *m.reply_to));
  TP_TRY(check_text("subject", m.subject, true));
  TP_TRY(check_text("preheader", m.preheader, true));
  TP_TRY(check_text("html", m.html, false));
  TP_TRY(check_text("text", m.text, false));
  if (m.html.empty() && m.text.empty()) return invalid_argument("html, text: the message has no body");

  std::string message_id;
  if (!m.message_id.empty()) {
    message_id = normalise_message_id(m.message_id);
    if (!valid_message_id(message_id))
      return invalid_argument(fmt::format("message_id: '{}' is not of the form <id@domain>",
                                          printable_ascii(m.message_id) ? m.message_id : "…"));
  } else if (!m.idempotency_key.empty()) {
    std::string domain = m.message_id_domain.empty() ? domain_of(m.from.email) : m.message_id_domain;
    if (!valid_email_address("x@" + domain))
      return invalid_argument(fmt::format("message_id_domain: '{}' is not a domain name", domain));
    message_id = message_id_for(m.idempotency_key, domain);
  } else {
    return invalid_argument("idempotency_key: required (the Message-ID is derived from it so that a retry keeps it)");
  }

  std::string list_unsubscribe;
  if (m.kind == EmailKind::kCommercial) {
    if (m.unsubscribe_url.rfind("https://", 0) != 0 || !valid_url_text(m.unsubscribe_url))
      return invalid_argument(
          "unsubscribe_url: a commercial message needs an https:// one-click unsubscribe URL (RFC 8058)");
    list_unsubscribe = fmt::format("<{}>", m.unsubscribe_url);
    if (!m.unsubscribe_mailto.empty()) {
      std::string mailto =
          m.unsubscribe_mailto.rfind("mailto:", 0) == 0 ? m.unsubscribe_mailto : "mailto:" + m.unsubscribe_mailto;
      std::string_view address = std::string_view(mailto).substr(7);
      address = address.substr(0, address.find('?'));
      if (!valid_email_address(address) || !valid_url_text(mailto))
        return invalid_argument(
            fmt::format("unsubscribe_mailto: '{}' is not a mailto: address", printable_ascii(mailto) ? mailto : "…"));
      list_unsubscribe += fmt::format(", <{}>", mailto);
    }
  } else if (!m.unsubscribe_url.empty() || !m.unsubscribe_mailto.empty()) {
    return invalid_argument(
        "unsubscribe_url: only commercial messages carry List-Unsubscribe (set kind to commercial)");
  }

  for (size_t i = 0; i < m.headers.size(); ++i) {
    const auto& [name, value] = m.headers[i];
    bool ftext =
        !name.empty() && std::all_of(name.begin(), name.end(), [](char c) { return c > 0x20 && c < 0x7f && c != ':'; });
    if (!ftext)
      return invalid_argument(
          fmt::format("headers[{}].name: '{}' is not a header field name", i, printable_ascii(name) ? name : "…"));
    std::string lower = name;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    if (std::find(kReservedHeaders.begin(), kReservedHeaders.end(), lower) != kReservedHeaders.end())
      return invalid_argument(fmt::format("headers[{}].name: {} is written by Touchpoint itself", i, name));
    TP_TRY(check_text(fmt::format("headers[{}].value", i), value, true));
  }

  ComposedEmail out;
  out.message_id = message_id;
  out.envelope_from = m.from.email;
  std::string to_list;
  for (const auto& a : m.to) {
    out.recipients.push_back(a.email);
    if (!to_list.empty()) to_list += ", ";
    to_list += format_address(a);
  }

  std::string& d = out.data;
  d.reserve(m.html.size() * 11 / 10 + m.text.size() * 11 / 10 + 2048);
  d += fold_header("Date", format_email_date(clock.now()));
  d += fold_header("From", format_address(m.from));
  d += fold_header("To", to_list);
  if (m.reply_to) d += fold_header("Reply-To", format_address(*m.reply_to));
  d += fold_header("Subject", encode_header_text(m.subject));
  d += fold_header("Message-ID", message_id);
  d += "MIME-Version: 1.0\r\n";
  if (!list_unsubscribe.empty()) {
    d += fold_header("List-Unsubscribe", list_unsubscribe);
    d += "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n";
  }
  for (const auto& [name, value] : m.headers) d += fold_header(name, encode_header_text(value));

  constexpr std::string_view kText =
      "Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n";
  constexpr std::string_view kHtml =
      "Content-Type: text/html; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n";
  std::string html = m.html.empty() ? std::string() : with_preheader(m.html, m.preheader);
  if (m.html.empty() || m.text.empty()) {
    d += m.html.empty() ? kText : kHtml;
    d += "\r\n";
    d += encode_quoted_printable(m.html.empty() ? m.text : html);
  } else {
    // "=_" never occurs in quoted-printable output ('=' is always followed by hex digits or a
    // line break), so this boundary cannot collide with the bodies.
    std::string boundary = "=_tp_" + hex_encode(sha256(message_id)).substr(0, 24);
    d += fmt::format("Content-Type: multipart/alternative;\r\n boundary=\"{}\"\r\n\r\n", boundary);
    d += "This is a multi-part message in MIME format.\r\n";
    d += fmt::format("--{}\r\n", boundary);
    d += kText;
    d += "\r\n";
    d += encode_quoted_printable(m.text);
    d += fmt::format("\r\n--{}\r\n", boundary);
    d += kHtml;
    d += "\r\n";
    d += encode_quoted_printable(html);
    d += fmt::format("\r\n--{}--\r\n", boundary);
  }
  // Header lines are bounded by construction (folding, URL and word limits); check anyway.
  size_t header_end = d.find("\r\n\r\n");
  size_t pos = 0;
  while (pos < header_end) {
    size_t eol = d.find("\r\n", pos);
    if (eol - pos > kMaxLine) return invalid_argument("headers: a header line would exceed 998 characters");
    pos = eol + 2;
  }
  return out;
}

}  // namespace tp::channels
