// tracking_page_server: TrackingHandler behind a small Boost.Beast HTTP/1.1 server on loopback,
// for the browser test (browser.test.mjs). Not for production: the lead wires TrackingHandler
// into src/http.
//
//   tracking_page_server
//     binds 127.0.0.1 on a free port, prints {"port": N} on one line, serves until SIGTERM/SIGINT.
//
// Besides /t/… it serves test routes:
//   GET  /_test/links     {"open", "click", "unsubscribe", "preferences"} URLs of one message
//   GET  /_test/email     a sample email, rewritten by rewrite_html (links, pixel)
//   GET  /_test/landing   where the sample's click links lead
//   GET  /_test/messages  every Segment message the sink received, as a JSON array
//   POST /_test/sink      body "ok" or "fail": what the sink answers from now on
// The sink keeps the latest categoryPreferences per user and serves them as the consent lookup,
// like the profile store would. The clock is manual, 2026-11-24T09:00:00Z, one second further
// on every request.
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "tracking/rewrite.h"
#include "tracking/tracking_handler.h"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Json = nlohmann::json;
using namespace tp::tracking;

const LinkContext kContext{"4711:confirmation:0", "u-åsa-1", "conversion-from-web", "confirmation"};

struct State {
  std::mutex mu;
  std::vector<std::string> messages;                           // GUARDED_BY(mu)
  std::map<std::string, std::map<std::string, bool>> consent;  // GUARDED_BY(mu)
  bool sink_ok = true;                                         // GUARDED_BY(mu)
};

struct Server {
  tp::ManualClock clock{tp::Timestamp(std::chrono::seconds(1795510800))};
  State state;
  std::unique_ptr<TrackingHandler> handler;
  std::string origin;  // http://127.0.0.1:PORT

  using Reply = http::response<http::string_body>;

  Reply reply(int status, std::string content_type, std::string body) {
    Reply r;
    r.result(static_cast<unsigned>(status));
    r.set(http::field::content_type, content_type);
    r.set(http::field::cache_control, "no-store");
    r.body() = std::move(body);
    return r;
  }

  Reply test_route(const http::request<http::string_body>& request, std::string_view path) {
    if (path == "/_test/links") {
      Json links;
      links["open"] = *handler->signer().url(LinkKind::kOpen, kContext);
      links["click"] = *handler->signer().url(LinkKind::kClick, kContext, origin + "/_test/landing?from=link&x=1");
      links["unsubscribe"] = *handler->signer().url(LinkKind::kUnsubscribe, kContext);
      links["preferences"] = *handler->signer().url(LinkKind::kPreferences, kContext);
      return reply(200, "application/json", links.dump());
    }
    if (path == "/_test/email") {
      auto links = handler->signer().email_links(kContext);
      const std::string html = R"(<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Your quote</title>
<style>a.button{display:inline-block;padding:12px 20px;background:#1d4ed8;color:#fff}</style></head>
<BODY>
<p>Hej Åsa, here is the quote you asked for.</p>
<p><a class="button" href=")" + origin +
                               R"(/_test/landing?from=email&amp;step=confirmation" id="shop">Shop now</a></p>
<p><a href="mailto:help@shop.example" id="mail">Write to us</a></p>
<p><a href=")" + links->unsubscribe_url +
                               R"(" id="unsubscribe">Unsubscribe</a></p>
</BODY></html>)";
      auto rewritten = rewrite_html(html, handler->signer(), kContext);
      if (!rewritten.is_ok()) return reply(500, "text/plain", rewritten.status().message());
      return reply(200, "text/html; charset=utf-8", rewritten->html);
    }
    if (path == "/_test/landing")
      return reply(
          200, "text/html; charset=utf-8",
          "<!DOCTYPE html><html lang=\"en\"><head><title>Landed</title></head><body><h1>Landed</h1></body></html>");
    if (path == "/_test/messages") {
      Json all = Json::array();
      std::lock_guard lock(state.mu);
      for (const auto& m : state.messages) all.push_back(Json::parse(m));
      return reply(200, "application/json", all.dump());
    }
    if (path == "/_test/sink" && request.method() == http::verb::post) {
      std::lock_guard lock(state.mu);
      state.sink_ok = request.body() != "fail";
      return reply(200, "text/plain", "ok");
    }
    return reply(404, "text/plain", "not found");
  }

  void sink(std::vector<std::string> messages, std::function<void(bool)> done) {
    bool ok;
    {
      std::lock_guard lock(state.mu);
      ok = state.sink_ok;
      if (ok) {
        for (auto& m : messages) {
          Json j = Json::parse(m);
          if (j["type"] == "identify" && j.contains("context"))
            for (const auto& [id, on] : j["context"]["consent"]["categoryPreferences"].items())
              state.consent[j["userId"]][id] = on.get<bool>();
          state.messages.push_back(std::move(m));
        }
      }
    }
    done(ok);
  }

  std::optional<std::map<std::string, bool>> consent(const std::string& user_id) {
    std::lock_guard lock(state.mu);
    auto it = state.consent.find(user_id);
    if (it == state.consent.end()) return std::nullopt;
    return it->second;
  }
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, Server& server) : socket_(std::move(socket)), server_(server) {}

  void read() {
    request_ = {};
    http::async_read(socket_, buffer_, request_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (!ec) self->answer();
    });
  }

 private:
  void answer() {
    server_.clock.advance(tp::Millis(1000));
    std::string target(request_.target());
    size_t question = target.find('?');
    std::string path = target.substr(0, question);
    if (!TrackingHandler::handles(path)) return write(server_.test_route(request_, path));

    TrackingRequest r;
    r.method = std::string(request_.method_string());
    r.path = path;
    r.query = question == std::string::npos ? "" : target.substr(question + 1);
    r.body = request_.body();
    if (auto it = request_.find(http::field::content_type); it != request_.end())
      r.content_type = std::string(it->value());
    if (auto it = request_.find(http::field::user_agent); it != request_.end()) r.user_agent = std::string(it->value());
    beast::error_code ec;
    auto remote = socket_.remote_endpoint(ec);
    if (!ec) r.remote_address = remote.address().to_string();
    // The sink answers synchronously here; in general `respond` may come from another thread
    // and would be posted back to the connection's executor.
    server_.handler->handle(r, [self = shared_from_this()](TrackingResponse response) {
      Server::Reply reply;
      reply.result(static_cast<unsigned>(response.status));
      if (!response.content_type.empty()) reply.set(http::field::content_type, response.content_type);
      for (const auto& [name, value] : response.headers) reply.set(name, value);
      reply.body() = std::move(response.body);
      self->write(std::move(reply));
    });
  }

  void write(Server::Reply reply) {
    response_ = std::move(reply);
    response_.version(11);
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
  Server& server_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> request_;
  Server::Reply response_;
};

void accept(tcp::acceptor& acceptor, Server& server) {
  acceptor.async_accept([&acceptor, &server](beast::error_code ec, tcp::socket socket) {
    if (ec) return;
    std::make_shared<Session>(std::move(socket), server)->read();
    accept(acceptor, server);
  });
}

}  // namespace

int main() {
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const int port = acceptor.local_endpoint().port();

  Server server;
  server.origin = "http://127.0.0.1:" + std::to_string(port);
  TrackingConfig config;
  config.base_url = server.origin;
  config.secret = "tracking page server secret, not a real one";
  config.company_name = "Zoë's <Shop> & Co";
  config.purposes = {{"newsletter", "Newsletter", "News and stories from the shop, once a month"},
                     {"offers", "Offers", "Sales, discount codes and early access"},
                     {"product-updates", "Product updates", ""}};
  auto handler = TrackingHandler::create(
      config,
      [&server](std::vector<std::string> m, std::function<void(bool)> done) {
        server.sink(std::move(m), std::move(done));
      },
      server.clock, [&server](const std::string& user) { return server.consent(user); });
  if (!handler.is_ok()) {
    std::cerr << "tracking_page_server: " << handler.status().message() << "\n";
    return 1;
  }
  server.handler = std::move(handler).value();

  accept(acceptor, server);
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](beast::error_code, int) { io.stop(); });
  std::cout << Json{{"port", port}}.dump() << std::endl;
  io.run();
  return 0;
}
