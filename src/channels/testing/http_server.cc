#include "channels/testing/http_server.h"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <cctype>
#include <thread>

namespace tp::channels::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct LoopbackHttpServer::Impl {
  asio::io_context io;
  tcp::acceptor acceptor{io};
  Handler handler;
  mutable std::mutex mu;
  std::vector<RecordedRequest> requests;    // GUARDED_BY(mu)
  std::vector<std::shared_ptr<void>> hung;  // unanswered sessions, closed when the server goes
  std::thread thread;

  void accept();
};

namespace {

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, LoopbackHttpServer::Impl& server) : socket_(std::move(socket)), server_(server) {}
  void read() {
    request_ = {};
    http::async_read(socket_, buffer_, request_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (!ec) self->answer();
    });
  }

 private:
  void answer() {
    RecordedRequest r;
    r.method = std::string(request_.method_string());
    r.target = std::string(request_.target());
    for (const auto& f : request_) {
      std::string name(f.name_string());
      std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
      r.headers[name] = std::string(f.value());
    }
    r.body = request_.body();
    {
      std::lock_guard lock(server_.mu);
      server_.requests.push_back(r);
    }
    CannedResponse canned = server_.handler(r);
    if (canned.hang) {
      server_.hung.push_back(shared_from_this());  // open, unanswered, until the server stops
      return;
    }
    response_ = {};
    response_.version(11);
    response_.result(static_cast<unsigned>(canned.status));
    for (const auto& [name, value] : canned.headers) response_.set(name, value);
    response_.body() = canned.body;
    response_.keep_alive(request_.keep_alive());
    response_.prepare_payload();
    http::async_write(socket_, response_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return;
      if (self->response_.keep_alive()) {
        self->read();
      } else {
        beast::error_code ignored;
        self->socket_.shutdown(tcp::socket::shutdown_send, ignored);
      }
    });
  }

  tcp::socket socket_;
  LoopbackHttpServer::Impl& server_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> request_;
  http::response<http::string_body> response_;
};

}  // namespace

void LoopbackHttpServer::Impl::accept() {
  acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
    if (ec) return;
    std::make_shared<Session>(std::move(socket), *this)->read();
    accept();
  });
}

Result<std::unique_ptr<LoopbackHttpServer>> LoopbackHttpServer::start(const std::string& address, Handler handler) {
  auto impl = std::make_unique<Impl>();
  impl->handler = std::move(handler);
  beast::error_code ec;
  tcp::endpoint endpoint(asio::ip::make_address(address, ec), 0);
  if (ec) return invalid_argument("http server: bad address " + address);
  impl->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl->acceptor.bind(endpoint, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return unavailable("http server: cannot listen on " + address + ": " + ec.message());
  int port = impl->acceptor.local_endpoint().port();
  impl->accept();
  impl->thread = std::thread([io = &impl->io] { io->run(); });
  return std::unique_ptr<LoopbackHttpServer>(new LoopbackHttpServer(std::move(impl), port));
}

LoopbackHttpServer::LoopbackHttpServer(std::unique_ptr<Impl> impl, int port) : impl_(std::move(impl)), port_(port) {}

LoopbackHttpServer::~LoopbackHttpServer() {
  impl_->io.stop();
  impl_->thread.join();
  impl_->acceptor.close();
  impl_->hung.clear();
}

std::vector<RecordedRequest> LoopbackHttpServer::requests() const {
  std::lock_guard lock(impl_->mu);
  return impl_->requests;
}

}  // namespace tp::channels::testing
