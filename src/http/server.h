// HttpServer: HTTP/1.1 on Boost.Beast, keep-alive, one strand per connection.
//
// Threading: the server runs on the io_context's threads (see docs/threading.md). A Handler is
// called on the connection's strand; it may answer later from any thread through Respond, which
// posts the write back to the strand.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http.hpp>
#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "base/metrics.h"
#include "base/status.h"

namespace tp::http {

namespace beast_http = boost::beast::http;
using Request = beast_http::request<beast_http::string_body>;
using Response = beast_http::response<beast_http::string_body>;
// Sends the response; callable once, from any thread.
using Respond = std::function<void(Response)>;

class Handler {
 public:
  virtual ~Handler() = default;
  virtual void handle(Request&& request, Respond respond) = 0;
};

struct ServerOptions {
  size_t max_body_bytes = 600 * 1024;  // larger bodies are answered 413 before they are read
  std::chrono::seconds idle_timeout{75};
};

// "HOST:PORT", "[::1]:PORT". Errors name the text.
Result<boost::asio::ip::tcp::endpoint> parse_listen_address(const std::string& text);

class HttpServer {
 public:
  // Binds and listens at once, so a taken port is reported here. Port 0 picks a free port.
  static Result<std::unique_ptr<HttpServer>> create(boost::asio::io_context& io,
                                                    const boost::asio::ip::tcp::endpoint& endpoint,
                                                    Handler& handler, MetricsRegistry& metrics,
                                                    ServerOptions options = {});
  ~HttpServer();

  void start();           // begins accepting
  void stop_accepting();  // closes the listening socket; open connections finish their requests
  // Requests whose headers were read and that are not yet answered.
  long long in_flight() const { return in_flight_.value(); }
  // While draining, every response says Connection: close.
  void set_draining() { draining_ = true; }
  boost::asio::ip::tcp::endpoint local_endpoint() const { return endpoint_; }

 private:
  class Session;
  HttpServer(boost::asio::io_context& io, Handler& handler, MetricsRegistry& metrics, ServerOptions options);
  void accept();

  boost::asio::io_context& io_;
  Handler& handler_;
  ServerOptions options_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::ip::tcp::endpoint endpoint_;
  Gauge& in_flight_;
  std::atomic<bool> draining_{false};
};

}  // namespace tp::http
