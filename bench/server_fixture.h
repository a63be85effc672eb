// The real Touchpoint server, in-process, wired as `touchpoint serve` wires it
// (src/cli/serve.cc): SQLite store, intake log, ProfileWriter, ReaderPool, KeyCache, Api and HttpServer on a
// free loopback port, its io_context run by its own threads.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "base/metrics.h"
#include "base/status.h"
#include "http/api.h"
#include "http/auth.h"
#include "http/server.h"
#include "profiles/writer.h"
#include "storage/store.h"

namespace tp::bench {

class BenchServer {
 public:
  // Opens (creating) the store in `data_dir`, which must exist, and starts serving.
  // `intake_log` false: requests are applied before they are acknowledged (the design before
  // the intake log, for comparison).
  static Result<std::unique_ptr<BenchServer>> start(const std::string& data_dir, unsigned http_threads,
                                                    bool intake_log = true);
  // Stops serving, then stops the writer (which applies whatever is still queued or in the log).
  ~BenchServer();

  // Creates a key of `kind` and returns it (the secret, as a client sends it).
  Result<std::string> create_key(storage::KeyKind kind);

  boost::asio::ip::tcp::endpoint endpoint() const { return server_->local_endpoint(); }
  storage::Store& store() { return *store_; }
  profiles::ProfileWriter& writer() { return *writer_; }
  MetricsRegistry& metrics() { return metrics_; }
  const std::string& data_dir() const { return data_dir_; }

 private:
  BenchServer(std::string data_dir, std::unique_ptr<storage::Store> store, unsigned http_threads);
  Status start_serving(bool intake_log);

  // Declaration order is destruction order reversed: everything the io_context's handlers
  // touch is declared before it.
  std::string data_dir_;
  std::unique_ptr<storage::Store> store_;
  SystemClock clock_;
  MetricsRegistry metrics_;
  std::unique_ptr<storage::IntakeLog> intake_;
  std::unique_ptr<profiles::ProfileWriter> writer_;
  std::unique_ptr<storage::ReaderPool> readers_;
  std::unique_ptr<http::KeyCache> keys_;
  std::unique_ptr<http::Api> api_;
  boost::asio::io_context io_;
  std::unique_ptr<http::HttpServer> server_;
  unsigned http_threads_;
  std::vector<std::thread> threads_;
};

}  // namespace tp::bench
