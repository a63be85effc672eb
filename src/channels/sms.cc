#include "channels/sms.h"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <unordered_set>

#include "base/crypto.h"
#include "channels/text.h"

namespace tp::channels {
namespace {

constexpr size_t kGsmSingle = 160, kGsmMulti = 153, kUcsSingle = 70, kUcsMulti = 67;

// GSM 03.38 default alphabet (1 septet) beyond printable ASCII, and the extension table
// (escape + character: 2 septets).
const std::unordered_set<char32_t>& gsm_basic_non_ascii() {
  static const std::unordered_set<char32_t> set = {U'£', U'¥', U'è', U'é', U'ù', U'ì', U'ò', U'Ç', U'Ø', U'ø',
                                                   U'Å', U'å', U'Δ', U'Φ', U'Γ', U'Λ', U'Ω', U'Π', U'Ψ', U'Σ',
                                                   U'Θ', U'Ξ', U'Æ', U'æ', U'ß', U'É', U'¤', U'¡', U'Ä', U'Ö',
                                                   U'Ñ', U'Ü', U'§', U'¿', U'ä', U'ö', U'ñ', U'ü', U'à'};
  return set;
}

// Septets for one character: 1, 2 (extension table) or 0 (not in GSM-7).
int gsm_septets(char32_t c) {
  if (c == U'^' || c == U'{' || c == U'}' || c == U'\\' || c == U'[' || c == U']' || c == U'~' || c == U'|' ||
      c == U'€' || c == U'\f')
    return 2;
  if (c == U'`') return 0;
  if ((c >= 0x20 && c <= 0x7e) || c == U'\n' || c == U'\r') return 1;
  return gsm_basic_non_ascii().count(c) ? 1 : 0;
}

size_t pack(const std::vector<size_t>& widths, size_t total, size_t single, size_t multi) {
  if (total == 0) return 0;
  if (total <= single) return 1;
  size_t segments = 1, used = 0;
  for (size_t w : widths) {
    if (used + w > multi) {
      ++segments;
      used = 0;
    }
    used += w;
  }
  return segments;
}

}  // namespace

SmsSegments count_sms_segments(std::string_view utf8) {
  std::u32string text = decode_utf8(utf8);
  std::vector<size_t> widths;
  widths.reserve(text.size());
  size_t total = 0;
  bool gsm = true;
  for (char32_t c : text) {
    int s = gsm_septets(c);
    if (s == 0) {
      gsm = false;
      break;
    }
    widths.push_back(static_cast<size_t>(s));
    total += static_cast<size_t>(s);
  }
  if (gsm) return {SmsEncoding::kGsm7, total, pack(widths, total, kGsmSingle, kGsmMulti)};
  widths.clear();
  total = 0;
  for (char32_t c : text) {
    size_t w = c > 0xffff ? 2 : 1;  // a surrogate pair
    widths.push_back(w);
    total += w;
  }
  return {SmsEncoding::kUcs2, total, pack(widths, total, kUcsSingle, kUcsMulti)};
}

bool valid_e164(std::string_view to) {
  if (to.size() < 9 || to.size() > 16 || to[0] != '+' || to[1] == '0') return false;
  return std::all_of(to.begin() + 1, to.end(), [](char c) { return c >= '0' && c <= '9'; });
}

Result<std::unique_ptr<SmsSender>> SmsSender::create(const SmsConfig& config) {
  if (config.base_url.rfind("https://", 0) != 0 && config.base_url.rfind("http://", 0) != 0)
    return invalid_argument(fmt::format("sms.base_url: '{}' is not an http(s) URL", config.base_url));
  if (config.account.empty()) return invalid_argument("sms.account: required");
  if (config.token.empty()) return invalid_argument("sms.token: required");
  if (config.sender_id.empty()) return invalid_argument("sms.sender_id: required");
  std::unique_ptr<SmsSender> sender(new SmsSender(config));
  std::string base = config.base_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  sender->url_ =
      fmt::format("{}/2010-04-01/Accounts/{}/Messages.json", base, url_encode(config.account, UrlEncoding::kPath));
  TP_ASSIGN(sender->http_, HttpClient::create(config.pool_size));
  return sender;
}

DeliveryResult SmsSender::send(const SmsMessage& message) {
  if (!valid_e164(message.to))
    return DeliveryResult::permanent_error(
        fmt::format("sms: to '{}' is not an E.164 number (+ and 8-15 digits)",
                    message.to.size() <= 20 ? message.to : message.to.substr(0, 20)));
  if (message.body.empty()) return DeliveryResult::permanent_error("sms: empty body");
  if (!valid_utf8(message.body)) return DeliveryResult::permanent_error("sms: body is not valid UTF-8");
  if (message.idempotency_key.empty() || message.idempotency_key.size() > 255 ||
      !std::all_of(message.idempotency_key.begin(), message.idempotency_key.end(),
                   [](char c) { return c > 0x20 && c < 0x7f; }))
    return DeliveryResult::permanent_error("sms: idempotency_key must be 1-255 printable ASCII characters");

  const std::string& from = message.from.empty() ? config_.sender_id : message.from;
  HttpRequest http;
  http.url = url_;
  http.body = fmt::format("To={}&From={}&Body={}", url_encode(message.to, UrlEncoding::kForm),
                          url_encode(from, UrlEncoding::kForm), url_encode(message.body, UrlEncoding::kForm));
  if (!config_.status_callback_url.empty())
    http.body += "&StatusCallback=" + url_encode(config_.status_callback_url, UrlEncoding::kForm);
  http.headers = {"Content-Type: application/x-www-form-urlencoded", "Accept: application/json",
                  "Idempotency-Key: " + message.idempotency_key};
  http.username = config_.account;
  http.password = config_.token;
  http.connect_timeout = config_.connect_timeout;
  http.timeout = config_.timeout;
  http.ca_file = config_.ca_file;

  HttpResponse r = http_->post(http);
  switch (r.failure) {
    case HttpFailure::kNone:
      break;
    case HttpFailure::kTimeout:
      return DeliveryResult::temporary_error(fmt::format("sms: timed out ({})", r.error));
    case HttpFailure::kConnect:
      return DeliveryResult::temporary_error(fmt::format("sms: could not reach the provider ({})", r.error));
    case HttpFailure::kLocal:
      return DeliveryResult::permanent_error(fmt::format("sms: {}", r.error));
  }
  int status = static_cast<int>(r.status);
  nlohmann::json answer = nlohmann::json::parse(r.body, nullptr, false);
  auto text_field = [&](const char* name) -> std::string {
    if (!answer.is_object() || !answer.contains(name)) return "";
    const auto& v = answer[name];
    return v.is_string() ? v.get<std::string>() : v.is_number() ? v.dump() : "";
  };
  if (status >= 200 && status < 300) {
    std::string sid = text_field("sid");
    if (sid.empty())
      return DeliveryResult::success("", fmt::format("sms: HTTP {} but the answer had no sid", status), status);
    std::string provider_status = text_field("status");
    return DeliveryResult::success(
        sid, fmt::format("HTTP {}{}", status, provider_status.empty() ? "" : " " + provider_status), status);
  }
  std::string detail = text_field("message");
  std::string code = text_field("code");
  if (detail.empty()) {
    detail = r.body.substr(0, 200);
    std::replace_if(
        detail.begin(), detail.end(), [](char c) { return c == '\r' || c == '\n'; }, ' ');
  }
  std::string reason = fmt::format("sms: HTTP {}", status);
  if (!code.empty()) reason += fmt::format(" (provider code {})", code);
  if (!detail.empty()) reason += ": " + detail;
  if (status == 408 || status == 429 || status >= 500)
    return DeliveryResult::temporary_error(reason, status, parse_retry_after(r.retry_after));
  return DeliveryResult::permanent_error(reason, status);
}

Result<SmsReceipt> parse_sms_status_callback(std::string_view form_body) {
  auto fields = parse_form(form_body);
  if (!fields) return invalid_argument("status callback: malformed form encoding");
  SmsReceipt receipt;
  for (const auto& [name, value] : *fields) {
    if (name == "MessageSid" || (name == "SmsSid" && receipt.message_sid.empty()))
      receipt.message_sid = value;
    else if (name == "MessageStatus" || (name == "SmsStatus" && receipt.raw_status.empty()))
      receipt.raw_status = value;
    else if (name == "ErrorCode")
      receipt.error_code = value;
    else if (name == "To")
      receipt.to = value;
  }
  if (receipt.message_sid.empty()) return invalid_argument("status callback: MessageSid is missing");
  if (receipt.raw_status.empty()) return invalid_argument("status callback: MessageStatus is missing");
  static const std::pair<std::string_view, SmsStatus> kStatuses[] = {
      {"queued", SmsStatus::kQueued},       {"accepted", SmsStatus::kAccepted},
      {"scheduled", SmsStatus::kScheduled}, {"sending", SmsStatus::kSending},
      {"sent", SmsStatus::kSent},           {"delivered", SmsStatus::kDelivered},
      {"read", SmsStatus::kRead},           {"undelivered", SmsStatus::kUndelivered},
      {"failed", SmsStatus::kFailed},       {"canceled", SmsStatus::kCanceled}};
  for (const auto& [text, status] : kStatuses)
    if (receipt.raw_status == text) receipt.status = status;
  return receipt;
}

bool valid_sms_callback_signature(const SmsConfig& config, std::string_view signature, std::string_view form_body) {
  auto fields = parse_form(form_body);
  if (!fields || config.token.empty() || config.status_callback_url.empty()) return false;
  std::stable_sort(fields->begin(), fields->end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string signed_text = config.status_callback_url;
  for (const auto& [name, value] : *fields) signed_text += name + value;
  return equal_in_constant_time(base64_encode(hmac_sha1(config.token, signed_text)), signature);
}

}  // namespace tp::channels
