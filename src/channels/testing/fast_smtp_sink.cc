#include "channels/testing/fast_smtp_sink.h"

#include <boost/asio.hpp>

#include <string>
#include <thread>

namespace tp::channels::testing {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

struct FastSmtpSink::Impl {
  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  std::thread thread;
  std::atomic<uint64_t> messages{0}, bytes{0}, connections{0};
  void accept();
};

namespace {

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, FastSmtpSink::Impl& sink) : socket_(std::move(socket)), sink_(sink) {}
  void start() {
    socket_.set_option(tcp::no_delay(true));
    reply("220 sink.test ESMTP ready\r\n");
  }

 private:
  void reply(std::string_view text) {
    out_.assign(text);
    asio::async_write(socket_, asio::buffer(out_), [self = shared_from_this()](boost::system::error_code ec, size_t) {
      if (ec || self->closing_) return;
      self->read_command();
    });
  }
  void read_command() {
    asio::async_read_until(socket_, asio::dynamic_buffer(in_), "\r\n",
                           [self = shared_from_this()](boost::system::error_code ec, size_t n) {
                             if (ec) return;
                             std::string line = self->in_.substr(0, n - 2);
                             self->in_.erase(0, n);
                             self->command(line);
                           });
  }
  void read_data() {
    // The data ends with CRLF.CRLF; the greeting of DATA is the CRLF before it.
    asio::async_read_until(socket_, asio::dynamic_buffer(in_), "\r\n.\r\n",
                           [self = shared_from_this()](boost::system::error_code ec, size_t n) {
                             if (ec) return;
                             self->in_.erase(0, n);
                             self->sink_.messages.fetch_add(1, std::memory_order_relaxed);
                             self->sink_.bytes.fetch_add(n, std::memory_order_relaxed);
                             self->reply("250 2.0.0 Ok: queued\r\n");
                           });
  }
  void command(const std::string& line) {
    std::string verb = line.substr(0, 4);
    for (auto& c : verb) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (verb == "EHLO") return reply("250-sink.test\r\n250-8BITMIME\r\n250 SIZE 52428800\r\n");
    if (verb == "HELO") return reply("250 sink.test\r\n");
    if (verb == "MAIL") return reply("250 2.1.0 Ok\r\n");
    if (verb == "RCPT") return reply("250 2.1.5 Ok\r\n");
    if (verb == "RSET" || verb == "NOOP") return reply("250 2.0.0 Ok\r\n");
    if (verb == "DATA") {
      out_ = "354 End data with <CR><LF>.<CR><LF>\r\n";
      asio::async_write(socket_, asio::buffer(out_), [self = shared_from_this()](boost::system::error_code ec, size_t) {
        if (!ec) self->read_data();
      });
      return;
    }
    if (verb == "QUIT") {
      closing_ = true;
      return reply("221 2.0.0 Bye\r\n");
    }
    reply("502 5.5.2 Command not recognized\r\n");
  }

  tcp::socket socket_;
  FastSmtpSink::Impl& sink_;
  std::string in_, out_;
  bool closing_ = false;
};

}  // namespace

void FastSmtpSink::Impl::accept() {
  acceptor.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
    if (ec) return;
    connections.fetch_add(1, std::memory_order_relaxed);
    std::make_shared<Connection>(std::move(socket), *this)->start();
    accept();
  });
}

Result<std::unique_ptr<FastSmtpSink>> FastSmtpSink::start() {
  auto impl = std::make_unique<Impl>();
  boost::system::error_code ec;
  tcp::endpoint endpoint(asio::ip::address_v4::loopback(), 0);
  impl->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl->acceptor.bind(endpoint, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return unavailable("smtp sink: cannot listen on loopback: " + ec.message());
  int port = impl->acceptor.local_endpoint().port();
  impl->accept();
  impl->thread = std::thread([io = &impl->io] { io->run(); });
  return std::unique_ptr<FastSmtpSink>(new FastSmtpSink(std::move(impl), port));
}

FastSmtpSink::FastSmtpSink(std::unique_ptr<Impl> impl, int port) : impl_(std::move(impl)), port_(port) {}

FastSmtpSink::~FastSmtpSink() {
  impl_->io.stop();
  impl_->thread.join();
}

uint64_t FastSmtpSink::messages() const { return impl_->messages.load(); }
uint64_t FastSmtpSink::bytes() const { return impl_->bytes.load(); }
uint64_t FastSmtpSink::connections() const { return impl_->connections.load(); }

}  // namespace tp::channels::testing
