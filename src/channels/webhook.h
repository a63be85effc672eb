// Webhooks: POST a JSON body to a customer's URL, signed per Standard Webhooks.
//
// Headers: `webhook-id` (the idempotency key: the same on every retry, so receivers can
// deduplicate), `webhook-timestamp` (Unix seconds, from the Clock) and `webhook-signature`
// (`v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, keyed with the base64-decoded part of the
// `whsec_…` secret). Redirects are not followed; connect and total timeouts apply; the SSRF
// guard (address_guard.h) resolves the host, refuses non-public addresses unless allow-listed,
// and the connection is pinned to the checked addresses.
//
// Classification: 2xx -> kDelivered (provider_id = webhook-id); 408, 425, 429, 5xx, timeouts and
// connection failures -> kTemporary (Retry-After honoured); 3xx (not followed), other 4xx, a
// refused address, an unknown host, a bad URL -> kPermanent.
//
// Thread-safe: send() from many threads; at most pool_size requests run at once.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "channels/address_guard.h"
#include "channels/delivery.h"
#include "channels/http_client.h"

namespace tp::channels {

struct WebhookConfig {
  std::string secret;  // default signing secret, "whsec_<base64>"; an endpoint may have its own
  Millis connect_timeout{5'000};
  Millis timeout{15'000};
  std::vector<std::string> allow;  // networks exempt from the SSRF guard ("127.0.0.0/8")
  size_t pool_size = 4;
  std::string user_agent = "Touchpoint-Webhooks/0.1";
  std::string ca_file;  // PEM bundle to trust instead of the system's
};

struct WebhookRequest {
  std::string url;     // http:// or https://
  std::string id;      // idempotency key -> webhook-id; printable ASCII, no spaces, <= 256 bytes
  std::string body;    // JSON
  std::string secret;  // "whsec_…"; empty: the configured one
};

// "whsec_<base64>" -> the HMAC key bytes. kInvalidArgument naming the problem.
Result<std::string> decode_webhook_secret(std::string_view secret);
// "v1,<base64 HMAC-SHA256(key, id.timestamp.body)>".
std::string sign_webhook(std::string_view key, std::string_view id, long long timestamp, std::string_view body);

class WebhookSender {
 public:
  static Result<std::unique_ptr<WebhookSender>> create(const WebhookConfig& config, const Clock& clock);
  DeliveryResult send(const WebhookRequest& request);

 private:
  WebhookSender(const WebhookConfig& config, const Clock& clock, AddressGuard guard)
      : config_(config), clock_(clock), guard_(std::move(guard)) {}
  WebhookConfig config_;
  std::string default_key_;  // decoded config_.secret
  const Clock& clock_;
  AddressGuard guard_;
  std::unique_ptr<HttpClient> http_;
};

}  // namespace tp::channels
