#include "channels/webhook.h"

#include <curl/curl.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "base/crypto.h"

namespace tp::channels {
namespace {

struct UrlParts {
  std::string scheme, host;
  int port = 0;
};

// Parses with libcurl's own URL parser, so that we check the same host libcurl connects to.
Result<UrlParts> parse_url(const std::string& url) {
  std::unique_ptr<CURLU, decltype(&curl_url_cleanup)> u(curl_url(), curl_url_cleanup);
  if (!u || curl_url_set(u.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK)
    return invalid_argument("url: not a valid absolute URL");
  auto part = [&](CURLUPart which, unsigned flags) -> std::string {
    char* v = nullptr;
    if (curl_url_get(u.get(), which, &v, flags) != CURLUE_OK || v == nullptr) return "";
    std::string s(v);
    curl_free(v);
    return s;
  };
  UrlParts p;
  p.scheme = part(CURLUPART_SCHEME, 0);
  p.host = part(CURLUPART_HOST, 0);
  std::string port = part(CURLUPART_PORT, CURLU_DEFAULT_PORT);
  if (p.scheme != "http" && p.scheme != "https")
    return invalid_argument(fmt::format("url: scheme '{}' is not http or https", p.scheme));
  if (p.host.empty()) return invalid_argument("url: no host");
  if (!part(CURLUPART_USER, 0).empty()) return invalid_argument("url: credentials in the URL are not allowed");
  p.port = port.empty() ? 0 : std::stoi(port);
  return p;
}

bool valid_id(std::string_view id) {
  return !id.empty() && id.size() <= 256 &&
         std::all_of(id.begin(), id.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

}  // namespace

Result<std::string> decode_webhook_secret(std::string_view secret) {
  constexpr std::string_view kPrefix = "whsec_";
  if (secret.substr(0, kPrefix.size()) != kPrefix) return invalid_argument("secret: must start with whsec_");
  auto key = base64_decode(secret.substr(kPrefix.size()));
  if (!key) return invalid_argument("secret: the part after whsec_ is not base64");
  if (key->size() < 24 || key->size() > 64)
    return invalid_argument(fmt::format("secret: the key is {} bytes; Standard Webhooks wants 24 to 64", key->size()));
  return *key;
}

std::string sign_webhook(std::string_view key, std::string_view id, long long timestamp, std::string_view body) {
  std::string content = fmt::format("{}.{}.", id, timestamp);
  content.append(body);
  return "v1," + base64_encode(hmac_sha256(key, content));
}

Result<std::unique_ptr<WebhookSender>> WebhookSender::create(const WebhookConfig& config, const Clock& clock) {
  TP_ASSIGN(AddressGuard guard, AddressGuard::create(config.allow));
  std::unique_ptr<WebhookSender> sender(new WebhookSender(config, clock, std::move(guard)));
  if (!config.secret.empty()) {
    TP_ASSIGN(sender->default_key_, decode_webhook_secret(config.secret));
  }
  TP_ASSIGN(sender->http_, HttpClient::create(config.pool_size));
  return sender;
}

DeliveryResult WebhookSender::send(const WebhookRequest& request) {
  if (!valid_id(request.id))
    return DeliveryResult::permanent_error("webhook: id must be 1-256 printable ASCII characters without spaces");
  std::string key = default_key_;
  if (!request.secret.empty()) {
    auto decoded = decode_webhook_secret(request.secret);
    if (!decoded.is_ok()) return DeliveryResult::permanent_error("webhook: " + decoded.status().message());
    key = std::move(decoded.value());
  }
  if (key.empty()) return DeliveryResult::permanent_error("webhook: no signing secret configured");
  auto url = parse_url(request.url);
  if (!url.is_ok()) return DeliveryResult::permanent_error("webhook: " + url.status().message());

  // SSRF guard: resolve ourselves, check every address, pin libcurl to them.
  auto addresses = guard_.resolve(url->host);
  if (!addresses.is_ok()) {
    std::string reason = "webhook: " + addresses.status().message();
    return addresses.status().code() == StatusCode::kUnavailable ? DeliveryResult::temporary_error(reason)
                                                                 : DeliveryResult::permanent_error(reason);
  }
  HttpRequest http;
  http.url = request.url;
  if (!IpAddress::parse(url->host)) {  // a literal needs no pin: nothing is resolved
    std::string list;
    for (const auto& a : *addresses)
      list += (list.empty() ? "" : ",") + (a.v6 ? "[" + a.to_string() + "]" : a.to_string());
    http.pinned = fmt::format("{}:{}:{}", url->host, url->port, list);
  }
  long long timestamp = std::chrono::duration_cast<std::chrono::seconds>(clock_.now().time_since_epoch()).count();
  http.body = request.body;
  http.headers = {"Content-Type: application/json", "User-Agent: " + config_.user_agent, "webhook-id: " + request.id,
                  fmt::format("webhook-timestamp: {}", timestamp),
                  "webhook-signature: " + sign_webhook(key, request.id, timestamp, request.body)};
  http.connect_timeout = config_.connect_timeout;
  http.timeout = config_.timeout;
  http.ca_file = config_.ca_file;
  http.max_response_bytes = 1024;

  HttpResponse r = http_->post(http);
  switch (r.failure) {
    case HttpFailure::kNone:
      break;
    case HttpFailure::kTimeout:
      return DeliveryResult::temporary_error(fmt::format("webhook: timed out ({})", r.error));
    case HttpFailure::kConnect:
      return DeliveryResult::temporary_error(fmt::format("webhook: could not deliver ({})", r.error));
    case HttpFailure::kLocal:
      return DeliveryResult::permanent_error(fmt::format("webhook: {}", r.error));
  }
  int status = static_cast<int>(r.status);
  if (status >= 200 && status < 300) return DeliveryResult::success(request.id, fmt::format("HTTP {}", status), status);
  std::string snippet = r.body.substr(0, 200);
  std::replace_if(
      snippet.begin(), snippet.end(), [](char c) { return c == '\r' || c == '\n'; }, ' ');
  if (status >= 300 && status < 400)
    return DeliveryResult::permanent_error(
        fmt::format("webhook: HTTP {} redirect to '{}' not followed (configure the final URL)", status, r.location),
        status);
  std::string reason =
      snippet.empty() ? fmt::format("webhook: HTTP {}", status) : fmt::format("webhook: HTTP {}: {}", status, snippet);
  if (status == 408 || status == 425 || status == 429 || status >= 500)
    return DeliveryResult::temporary_error(reason, status, parse_retry_after(r.retry_after));
  return DeliveryResult::permanent_error(reason, status);
}

}  // namespace tp::channels
