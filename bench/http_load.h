// HTTP clients over loopback: the ingestion load generator (many keep-alive connections driven
// by C++20 coroutines on the client's own threads) and a small blocking client for reads.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"
#include "events.h"
#include "support.h"

namespace tp::bench {

struct LoadSpec {
  boost::asio::ip::tcp::endpoint endpoint;
  std::string write_key;
  bool batch = true;  // POST /v1/batch of `batch_size` track events; false: POST /v1/track
  int batch_size = 100;
  int users = 10000;
  int connections = 64;
  int client_threads = 1;
  double warmup_seconds = 1;
  double seconds = 10;
  // 0: closed loop, every connection sends its next request as soon as the last is answered.
  // Otherwise open loop: requests are due at this fixed rate over all connections, and latency
  // counts from the moment a request was due, so a stalled server cannot hide its queue
  // (no coordinated omission).
  double paced_requests_per_second = 0;
  std::string id_prefix;  // makes messageIds unique; one per run
  IdStyle ids = IdStyle::kUuid;
};

struct LoadResult {
  double seconds = 0;      // the measured window, after the warm-up
  long long requests = 0;  // answered 200 within the window
  long long events = 0;    // events in those requests
  long long errors = 0;    // non-200 answers and broken connections, whole run
  std::string first_error;
  Percentiles latency;  // acknowledgement latency of the counted requests

  double requests_per_second() const { return seconds > 0 ? static_cast<double>(requests) / seconds : 0; }
  double events_per_second() const { return seconds > 0 ? static_cast<double>(events) / seconds : 0; }
};

// Runs the load to completion (warm-up + seconds, or until interrupted()).
LoadResult run_load(const LoadSpec& spec);

// One keep-alive connection, blocking calls; for measuring reads one at a time.
class HttpClient {
 public:
  using Response = boost::beast::http::response<boost::beast::http::string_body>;

  static Result<std::unique_ptr<HttpClient>> connect(const boost::asio::ip::tcp::endpoint& endpoint);
  Result<Response> get(std::string_view target, std::string_view authorization);

 private:
  HttpClient() : stream_(io_) {}

  boost::asio::io_context io_;
  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
};

}  // namespace tp::bench
