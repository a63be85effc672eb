// SMS through an HTTP provider API of the Twilio shape, and what SMS text costs in segments.
//
// Request (documented in docs/channels.md):
//   POST {base_url}/2010-04-01/Accounts/{account}/Messages.json
//   Authorization: Basic base64(account:token)      Idempotency-Key: {idempotency key}
//   Content-Type: application/x-www-form-urlencoded
//   To={E.164}&From={sender id}&Body={text}[&StatusCallback={url}]
// Answer: JSON; `sid` names the message at the provider. Classification: 2xx -> kDelivered
// (provider_id = sid); 408, 429, 5xx, timeouts and connection failures -> kTemporary
// (Retry-After honoured); other 4xx and 3xx -> kPermanent, with the provider's `message` and
// `code` in the reason. The provider is configured by the operator, so no SSRF guard applies.
//
// Delivery receipts: the provider POSTs form fields (MessageSid, MessageStatus, ErrorCode, …)
// to the StatusCallback URL; parse_sms_status_callback reads them.
//
// Thread-safe: send() from many threads; at most pool_size requests run at once.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "channels/delivery.h"
#include "channels/http_client.h"

namespace tp::channels {

enum class SmsEncoding { kGsm7, kUcs2 };

struct SmsSegments {
  SmsEncoding encoding = SmsEncoding::kGsm7;
  size_t units = 0;     // GSM-7 septets (extension characters count 2) or UTF-16 code units
  size_t segments = 0;  // 0 for an empty text
};

// GSM-7 when every character is in the GSM 03.38 default alphabet or its extension table
// (^ { } \ [ ] ~ | € and form feed, 2 septets each), else UCS-2. One segment holds 160 septets
// (70 UTF-16 units); a longer text is split into segments of 153 (67) — the rest is the
// concatenation header — and an escape pair or a surrogate pair is never split.
SmsSegments count_sms_segments(std::string_view utf8);

struct SmsConfig {
  std::string base_url;             // "https://api.twilio.com" or a compatible provider
  std::string account;              // account SID; also the basic-auth user
  std::string token;                // auth token; the basic-auth password
  std::string sender_id;            // From: a number in E.164 or an alphanumeric sender id
  std::string status_callback_url;  // sent as StatusCallback when not empty
  Millis connect_timeout{5'000};
  Millis timeout{15'000};
  size_t pool_size = 4;
  std::string ca_file;  // PEM bundle to trust instead of the system's
};

struct SmsMessage {
  std::string to;               // E.164: "+4915112345678"
  std::string body;             // UTF-8
  std::string idempotency_key;  // sent as Idempotency-Key: the provider deduplicates retries
  std::string from;             // empty: config sender_id
};

class SmsSender {
 public:
  static Result<std::unique_ptr<SmsSender>> create(const SmsConfig& config);
  DeliveryResult send(const SmsMessage& message);

 private:
  explicit SmsSender(const SmsConfig& config) : config_(config) {}
  SmsConfig config_;
  std::string url_;
  std::unique_ptr<HttpClient> http_;
};

enum class SmsStatus {
  // On the way.
  kQueued,
  kAccepted,
  kScheduled,
  kSending,
  kSent,
  // Final: arrived.
  kDelivered,
  kRead,
  // Final: did not arrive.
  kUndelivered,
  kFailed,
  kCanceled,
  // A status this version does not know.
  kUnknown,
};

struct SmsReceipt {
  std::string message_sid;
  SmsStatus status = SmsStatus::kUnknown;
  std::string raw_status;  // as sent: "delivered"
  std::string error_code;  // ErrorCode, when the provider sent one
  std::string to;
  bool final() const {
    return status == SmsStatus::kDelivered || status == SmsStatus::kRead || status == SmsStatus::kUndelivered ||
           status == SmsStatus::kFailed || status == SmsStatus::kCanceled;
  }
};

// A status callback body (application/x-www-form-urlencoded). kInvalidArgument naming the
// missing or malformed field.
Result<SmsReceipt> parse_sms_status_callback(std::string_view form_body);

// Whether a status callback comes from the provider: `signature` (the X-Twilio-Signature
// header) is base64(HMAC-SHA1(token, status_callback_url + every form field's name and value,
// sorted by name)), the provider's way of signing callbacks.
bool valid_sms_callback_signature(const SmsConfig& config, std::string_view signature, std::string_view form_body);

// Whether `to` is an E.164 number: '+', then 8 to 15 digits, the first not 0.
bool valid_e164(std::string_view to);

}  // namespace tp::channels
