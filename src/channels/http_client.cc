#include "channels/http_client.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>

#include "channels/curl_util.h"

namespace tp::channels {
namespace {

struct Exchange {
  HttpResponse* response = nullptr;
  size_t max_body = 0;
};

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* x = static_cast<Exchange*>(user);
  size_t n = size * count;
  size_t room = x->max_body - std::min(x->max_body, x->response->body.size());
  x->response->body.append(data, std::min(n, room));
  return n;  // the rest is read and dropped
}

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* x = static_cast<Exchange*>(user);
  std::string_view line(data, size * count);
  size_t colon = line.find(':');
  if (colon != std::string_view::npos) {
    std::string name(line.substr(0, colon));
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && std::isspace(static_cast<unsigned char>(value.back()))) value.remove_suffix(1);
    if (name == "location") x->response->location.assign(value.substr(0, 500));
    if (name == "retry-after") x->response->retry_after.assign(value.substr(0, 100));
  }
  return size * count;
}

HttpFailure failure_of(CURLcode rc) {
  switch (rc) {
    case CURLE_OK:
      return HttpFailure::kNone;
    case CURLE_OPERATION_TIMEDOUT:
      return HttpFailure::kTimeout;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_BAD_FUNCTION_ARGUMENT:
    case CURLE_OUT_OF_MEMORY:
    case CURLE_NOT_BUILT_IN:
    case CURLE_UNKNOWN_OPTION:
      return HttpFailure::kLocal;
    default:
      return HttpFailure::kConnect;
  }
}

}  // namespace

struct HttpClient::Slot {
  internal::CurlEasy easy;
  char error[CURL_ERROR_SIZE] = {};
};

Result<std::unique_ptr<HttpClient>> HttpClient::create(size_t slots) {
  if (slots == 0 || slots > 256) return invalid_argument(fmt::format("pool_size: {} is not within 1..256", slots));
  internal::ensure_curl_initialized();
  std::unique_ptr<HttpClient> client(new HttpClient());
  for (size_t i = 0; i < slots; ++i) {
    auto slot = std::make_unique<Slot>();
    slot->easy.reset(curl_easy_init());
    if (!slot->easy) return internal_error("http: curl_easy_init failed");
    client->free_.push_back(slot.get());
    client->slots_.push_back(std::move(slot));
  }
  return client;
}

HttpClient::~HttpClient() = default;

HttpResponse HttpClient::post(const HttpRequest& request) {
  Slot* slot;
  {
    std::unique_lock lock(mu_);
    freed_.wait(lock, [&] { return !free_.empty(); });
    slot = free_.back();
    free_.pop_back();
  }
  HttpResponse response;
  Exchange exchange{&response, request.max_response_bytes};
  internal::CurlSlist headers, resolve;
  bool ok = true;
  for (const auto& h : request.headers) ok = ok && internal::slist_append(headers, h);
  ok = ok && internal::slist_append(headers, "Expect:");  // no 100-continue round trip
  if (!request.pinned.empty()) {
    // Drop any earlier pin for this host:port from the handle's DNS cache, then pin anew.
    std::string host_port = request.pinned.substr(0, request.pinned.rfind(':'));
    ok = ok && internal::slist_append(resolve, "-" + host_port) && internal::slist_append(resolve, request.pinned);
  }

  CURL* h = slot->easy.get();
  curl_easy_reset(h);  // options only: the connection cache and its open connections stay
  slot->error[0] = '\0';
  curl_easy_setopt(h, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(h, CURLOPT_PROXY, "");
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_POST, 1L);
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, request.body.data());
  curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
  if (resolve) curl_easy_setopt(h, CURLOPT_RESOLVE, resolve.get());
  if (!request.username.empty()) {
    curl_easy_setopt(h, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(h, CURLOPT_USERNAME, request.username.c_str());
    curl_easy_setopt(h, CURLOPT_PASSWORD, request.password.c_str());
  }
  if (!request.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, request.ca_file.c_str());
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(request.connect_timeout.count()));
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()));
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &exchange);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &exchange);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, slot->error);

  CURLcode rc = ok ? curl_easy_perform(h) : CURLE_OUT_OF_MEMORY;
  response.failure = failure_of(rc);
  if (rc != CURLE_OK) response.error = internal::curl_error_text(rc, slot->error);
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &response.status);
  char* ip = nullptr;
  if (curl_easy_getinfo(h, CURLINFO_PRIMARY_IP, &ip) == CURLE_OK && ip != nullptr) response.peer_ip = ip;
  // The lists die with this call: make sure the handle no longer points at them.
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(h, CURLOPT_RESOLVE, nullptr);
  {
    std::lock_guard lock(mu_);
    free_.push_back(slot);
  }
  freed_.notify_one();
  return response;
}

std::optional<Millis> parse_retry_after(std::string_view value) {
  long long seconds = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
  if (ec != std::errc() || end != value.data() + value.size() || seconds < 0 || seconds > 86'400 * 7)
    return std::nullopt;
  return Millis(seconds * 1000);
}

}  // namespace tp::channels
