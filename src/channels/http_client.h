// HTTP POST over libcurl with a pool of easy handles (kept-alive connections), shared by the
// SMS and webhook adapters. Internal to channels: the adapters classify the outcome.
//
// Never follows redirects, never uses a proxy (not even from the environment), speaks only
// http and https, and reads at most max_response_bytes of an answer.
// Thread-safe: post() may be called from many threads; at most `slots` run at once.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/status.h"

namespace tp::channels {

struct HttpRequest {
  std::string url;
  std::string body;
  std::vector<std::string> headers;  // "Name: value"
  std::string username, password;    // basic auth when username is not empty
  // Pin host:port to these addresses ("host:port:addr1,addr2" for CURLOPT_RESOLVE); empty:
  // libcurl resolves the host itself.
  std::string pinned;
  std::string ca_file;  // PEM bundle to trust instead of the system's
  Millis connect_timeout{10'000};
  Millis timeout{30'000};
  size_t max_response_bytes = 16 * 1024;
};

enum class HttpFailure {
  kNone,     // an HTTP answer arrived (any status)
  kTimeout,  // connect or total timeout
  kConnect,  // refused, unreachable, reset, TLS handshake, DNS
  kLocal,    // bad URL, protocol not allowed, out of memory: our side
};

struct HttpResponse {
  HttpFailure failure = HttpFailure::kNone;
  std::string error;  // libcurl's words when failure != kNone
  long status = 0;
  std::string body;         // at most max_response_bytes
  std::string location;     // Location header (redirects are reported, not followed)
  std::string retry_after;  // Retry-After header
  std::string peer_ip;      // the address actually connected to
};

class HttpClient {
 public:
  static Result<std::unique_ptr<HttpClient>> create(size_t slots);
  ~HttpClient();
  HttpResponse post(const HttpRequest& request);

 private:
  struct Slot;
  HttpClient() = default;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::mutex mu_;
  std::condition_variable freed_;
  std::vector<Slot*> free_;  // GUARDED_BY(mu_)
};

// Retry-After as a delay: delta-seconds only ("120"); nullopt for HTTP dates or garbage.
std::optional<Millis> parse_retry_after(std::string_view value);

}  // namespace tp::channels
