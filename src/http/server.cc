#include "http/server.h"

#include <fmt/format.h>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <array>
#include <charconv>

#include "base/log.h"

namespace tp::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

Result<tcp::endpoint> parse_listen_address(const std::string& text) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos)
    return invalid_argument(fmt::format("--listen: \"{}\" is not HOST:PORT", text));
  std::string host = text.substr(0, colon);
  std::string port_text = text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  unsigned port = 0;
  auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || ptr != port_text.data() + port_text.size() || port > 65535)
    return invalid_argument(fmt::format("--listen: port \"{}\" in \"{}\" is not a number from 0 to 65535", port_text, text));
  if (host == "localhost") host = "127.0.0.1";
  boost::system::error_code bad;
  auto address = asio::ip::make_address(host, bad);
  if (bad) return invalid_argument(fmt::format("--listen: host \"{}\" in \"{}\" is not an IP address", host, text));
  return tcp::endpoint(address, static_cast<unsigned short>(port));
}

class HttpServer::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, HttpServer& server) : stream_(std::move(socket)), server_(server) {}

  void start() {
    asio::dispatch(stream_.get_executor(), beast::bind_front_handler(&Session::read, shared_from_this()));
  }

 private:
  void read() {
    parser_.emplace();
    parser_->body_limit(server_.options_.max_body_bytes);
    stream_.expires_after(server_.options_.idle_timeout);
    beast_http::async_read_header(stream_, buffer_, *parser_,
                                  beast::bind_front_handler(&Session::on_header, shared_from_this()));
  }

  // curl and some HTTP libraries send "Expect: 100-continue" and wait for the interim answer
  // before sending a body; without it they stall for a second.
  void on_header(beast::error_code ec, std::size_t) {
    if (ec) return on_read(ec, 0);
    begin_request();  // from here the request counts as in flight: a drain waits for its body
    if (parser_->get()[beast_http::field::expect] == "100-continue" && !parser_->is_done()) {
      auto interim = std::make_shared<beast_http::response<beast_http::empty_body>>(beast_http::status::continue_, 11);
      beast_http::async_write(stream_, *interim, [self = shared_from_this(), interim](beast::error_code ec, std::size_t) {
        if (ec) return;
        self->read_body();
      });
      return;
    }
    read_body();
  }

  void read_body() {
    beast_http::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&Session::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec == beast_http::error::body_limit) {
      // Answer 413 and close: the rest of the body is not read.
      begin_request();
      keep_alive_ = false;
      Response res{beast_http::status::payload_too_large, 11};
      res.set(beast_http::field::content_type, "application/json");
      res.body() = fmt::format(R"({{"success":false,"error":"body: request is larger than {} bytes"}})",
                               server_.options_.max_body_bytes);
      return write(std::move(res));
    }
    if (ec) {
      if (ec != beast_http::error::end_of_stream && ec != beast::error::timeout && ec != asio::error::connection_reset &&
          ec != asio::error::eof && ec != beast_http::error::partial_message) {
        Response res{beast_http::status::bad_request, 11};
        res.set(beast_http::field::content_type, "application/json");
        res.body() = fmt::format(R"({{"success":false,"error":"malformed HTTP request: {}"}})", ec.message());
        begin_request();
        keep_alive_ = false;
        return write(std::move(res));
      }
      end_request();
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
      return;
    }
    Request req = parser_->release();
    keep_alive_ = req.keep_alive();
    version_ = req.version();
    stream_.expires_never();  // the handler may wait for a durable commit
    auto self = shared_from_this();
    server_.handler_.handle(std::move(req), [self](Response res) {
      asio::post(self->stream_.get_executor(), [self, res = std::move(res)]() mutable { self->write(std::move(res)); });
    });
  }

  void write(Response res) {
    response_ = std::move(res);
    response_.version(version_);
    if (server_.draining_) keep_alive_ = false;
    response_.keep_alive(keep_alive_);
    response_.prepare_payload();
    stream_.expires_after(std::chrono::seconds(30));
    beast_http::async_write(stream_, response_, beast::bind_front_handler(&Session::on_write, shared_from_this()));
  }

  void on_write(beast::error_code ec, std::size_t) {
    end_request();
    if (ec) return;
    if (!keep_alive_) {
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
      // Lingering close: a client still sending a body we refused (413) would get a reset
      // instead of our answer if we closed now. Read and discard for a while first.
      stream_.expires_after(std::chrono::seconds(2));
      return discard(0);
    }
    read();
  }

  void discard(std::size_t total) {
    constexpr std::size_t kMaxDiscard = 16 * 1024 * 1024;
    if (total > kMaxDiscard) return;
    stream_.async_read_some(asio::buffer(scratch_), [self = shared_from_this(), total](beast::error_code ec, std::size_t n) {
      if (!ec) self->discard(total + n);
    });
  }

  void begin_request() {
    if (!counted_) server_.in_flight_.add(1);
    counted_ = true;
  }
  void end_request() {
    if (counted_) server_.in_flight_.add(-1);
    counted_ = false;
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  HttpServer& server_;
  std::optional<beast_http::request_parser<beast_http::string_body>> parser_;
  Response response_;
  std::array<char, 16384> scratch_{};
  bool keep_alive_ = true;
  bool counted_ = false;  // this connection's current request is counted in in_flight_
  unsigned version_ = 11;
};

HttpServer::HttpServer(asio::io_context& io, Handler& handler, MetricsRegistry& metrics, ServerOptions options)
    : io_(io),
      handler_(handler),
      options_(options),
      acceptor_(asio::make_strand(io)),
      in_flight_(metrics.gauge("touchpoint_http_requests_in_flight",
                               "Requests whose headers were read and that are not yet answered")) {}

HttpServer::~HttpServer() = default;

Result<std::unique_ptr<HttpServer>> HttpServer::create(asio::io_context& io, const tcp::endpoint& endpoint,
                                                       Handler& handler, MetricsRegistry& metrics,
                                                       ServerOptions options) {
  auto server = std::unique_ptr<HttpServer>(new HttpServer(io, handler, metrics, options));
  beast::error_code ec;
  auto fail = [&](const char* what) {
    return Status(StatusCode::kUnavailable, fmt::format("cannot listen on {}:{}: {} ({})", endpoint.address().to_string(),
                                                        endpoint.port(), ec.message(), what));
  };
  auto& a = server->acceptor_;
  if (a.open(endpoint.protocol(), ec); ec) return fail("open");
  if (a.set_option(asio::socket_base::reuse_address(true), ec); ec) return fail("set_option");
  if (a.bind(endpoint, ec); ec) return fail("bind");
  if (a.listen(asio::socket_base::max_listen_connections, ec); ec) return fail("listen");
  server->endpoint_ = a.local_endpoint();
  return server;
}

void HttpServer::start() { accept(); }

void HttpServer::stop_accepting() {
  asio::post(acceptor_.get_executor(), [this] {
    beast::error_code ignored;
    acceptor_.close(ignored);
  });
}

void HttpServer::accept() {
  acceptor_.async_accept(asio::make_strand(io_), [this](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (!ec) {
      socket.set_option(tcp::no_delay(true), ec);
      std::make_shared<Session>(std::move(socket), *this)->start();
    } else {
      log::warn("accept failed", {{"error", ec.message()}});
    }
    accept();
  });
}

}  // namespace tp::http
