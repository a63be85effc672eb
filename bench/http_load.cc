#include "http_load.h"

#include <fmt/format.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <iterator>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "base/crypto.h"
#include "events.h"

namespace tp::bench {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using asio::use_awaitable;

struct Window {
  SteadyClock::time_point start, measure_from, end;
};

struct ConnectionStats {
  std::vector<double> latencies_us;
  long long requests = 0, events = 0, errors = 0;
  std::string first_error;

  void fail(std::string what) {
    if (errors++ == 0) first_error = std::move(what);
  }
};

SteadyClock::time_point after(SteadyClock::time_point t, double seconds) {
  return t + std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(seconds));
}

// The request's bytes, written straight into one string: the load generator should spend as
// little of the shared cores as it can (Beast's serializer cost it more than the body did).
void make_request(std::string& out, std::string_view head, const LoadSpec& spec, EventFactory& events) {
  static const SystemClock wall;
  std::string body = spec.batch ? events.random_batch_body(spec.batch_size, wall.now()) : events.random_track_body(wall.now());
  out.assign(head);
  fmt::format_to(std::back_inserter(out), "{}\r\n\r\n", body.size());
  out += body;
}

// One connection: sends requests until the window ends, recording the ones answered inside it.
asio::awaitable<void> drive(const LoadSpec& spec, int index, Window window, ConnectionStats& stats) {
  auto executor = co_await asio::this_coro::executor;
  tcp::socket socket(executor);
  co_await socket.async_connect(spec.endpoint, use_awaitable);
  socket.set_option(tcp::no_delay(true));

  EventFactory events(fmt::format("{}c{}", spec.id_prefix, index), spec.users, spec.ids);
  const std::string head = fmt::format(
      "POST {} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic {}\r\nContent-Type: application/json\r\n"
      "Content-Length: ",
      spec.batch ? "/v1/batch" : "/v1/track", base64_encode(spec.write_key + ":"));
  const bool paced = spec.paced_requests_per_second > 0;
  const int per_request = spec.batch ? spec.batch_size : 1;
  beast::flat_buffer buffer;
  asio::steady_timer timer(executor);
  std::string request;

  for (long long j = 0; !interrupted(); ++j) {
    // The body is built before the clock starts: generating it is the client's cost, not the server's.
    make_request(request, head, spec, events);
    auto started = SteadyClock::now();
    if (paced) {
      // Connection `index` owns every connections-th slot of the global schedule.
      double slot = static_cast<double>(j * spec.connections + index);
      auto due = after(window.start, slot / spec.paced_requests_per_second);
      if (due >= window.end) break;
      if (due > started) {
        timer.expires_at(due);
        co_await timer.async_wait(use_awaitable);
      }
      started = due;
    } else if (started >= window.end) {
      break;
    }
    co_await asio::async_write(socket, asio::buffer(request), use_awaitable);
    http::response<http::string_body> response;
    co_await http::async_read(socket, buffer, response, use_awaitable);
    auto done = SteadyClock::now();
    if (response.result() != http::status::ok) {
      stats.fail(fmt::format("HTTP {}: {}", response.result_int(), response.body()));
    } else if (done >= window.measure_from && done <= window.end) {
      stats.latencies_us.push_back(std::chrono::duration<double, std::micro>(done - started).count());
      ++stats.requests;
      stats.events += per_request;
    }
  }
  beast::error_code ignored;
  socket.shutdown(tcp::socket::shutdown_both, ignored);
}

// A broken connection ends that connection only; the error is reported with the result.
asio::awaitable<void> drive_guarded(const LoadSpec& spec, int index, Window window, ConnectionStats& stats) {
  try {
    co_await drive(spec, index, window, stats);
  } catch (const std::exception& e) {
    stats.fail(fmt::format("connection {}: {}", index, e.what()));
  }
}

LoadResult merge(const std::vector<ConnectionStats>& stats, double seconds) {
  LoadResult r;
  r.seconds = seconds;
  std::vector<double> latencies;
  for (const auto& s : stats) {
    latencies.insert(latencies.end(), s.latencies_us.begin(), s.latencies_us.end());
    r.requests += s.requests;
    r.events += s.events;
    if (s.errors != 0 && r.errors == 0) r.first_error = s.first_error;
    r.errors += s.errors;
  }
  r.latency = percentiles(std::move(latencies));
  return r;
}

}  // namespace

LoadResult run_load(const LoadSpec& spec) {
  asio::io_context io(spec.client_threads);
  std::vector<ConnectionStats> stats(static_cast<size_t>(spec.connections));
  Window window;
  window.start = SteadyClock::now();
  window.measure_from = after(window.start, spec.warmup_seconds);
  window.end = after(window.measure_from, spec.seconds);
  for (int i = 0; i < spec.connections; ++i)
    asio::co_spawn(io, drive_guarded(spec, i, window, stats[static_cast<size_t>(i)]), asio::detached);

  std::vector<std::thread> threads;
  for (int i = 1; i < spec.client_threads; ++i) threads.emplace_back([&io] { io.run(); });
  io.run();
  for (auto& t : threads) t.join();

  // An interrupted run measured less than planned.
  auto measured_end = std::min(SteadyClock::now(), window.end);
  double seconds = std::max(0.0, std::chrono::duration<double>(measured_end - window.measure_from).count());
  return merge(stats, seconds);
}

Result<std::unique_ptr<HttpClient>> HttpClient::connect(const tcp::endpoint& endpoint) {
  auto client = std::unique_ptr<HttpClient>(new HttpClient());
  beast::error_code ec;
  client->stream_.socket().connect(endpoint, ec);
  if (ec) return unavailable(fmt::format("cannot connect to {}: {}", endpoint.port(), ec.message()));
  client->stream_.socket().set_option(tcp::no_delay(true));
  return client;
}

Result<HttpClient::Response> HttpClient::get(std::string_view target, std::string_view authorization) {
  http::request<http::empty_body> req{http::verb::get, target, 11};
  req.set(http::field::host, "127.0.0.1");
  req.set(http::field::authorization, authorization);
  beast::error_code ec;
  http::write(stream_, req, ec);
  if (ec) return unavailable(fmt::format("GET {}: write failed: {}", target, ec.message()));
  Response res;
  http::read(stream_, buffer_, res, ec);
  if (ec) return unavailable(fmt::format("GET {}: read failed: {}", target, ec.message()));
  return res;
}

}  // namespace tp::bench
