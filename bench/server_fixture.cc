#include "server_fixture.h"

#include "storage/sqlite_store.h"

namespace tp::bench {

namespace asio = boost::asio;

Result<std::unique_ptr<BenchServer>> BenchServer::start(const std::string& data_dir, unsigned http_threads,
                                                       bool intake_log) {
  TP_ASSIGN(auto store, storage::open_sqlite_store(data_dir));
  auto server = std::unique_ptr<BenchServer>(new BenchServer(data_dir, std::move(store), http_threads));
  TP_TRY(server->start_serving(intake_log));
  return server;
}

// The concurrency hint matches the thread count, as in serve.cc: a hint of 1 would make asio
// assume a single thread and skip waking the others.
BenchServer::BenchServer(std::string data_dir, std::unique_ptr<storage::Store> store, unsigned http_threads)
    : data_dir_(std::move(data_dir)),
      store_(std::move(store)),
      io_(static_cast<int>(http_threads)),
      http_threads_(http_threads) {}

Status BenchServer::start_serving(bool intake_log) {
  if (intake_log) {
    TP_ASSIGN(intake_, storage::IntakeLog::open(data_dir_ + "/intake"));
  }
  TP_ASSIGN(writer_, profiles::ProfileWriter::create(*store_, clock_, metrics_, intake_.get()));
  readers_ = std::make_unique<storage::ReaderPool>(*store_);
  keys_ = std::make_unique<http::KeyCache>(*readers_);
  api_ = std::make_unique<http::Api>(http::ApiDeps{*readers_, *writer_, *keys_, clock_, metrics_, ingest::Limits{}});
  auto loopback = asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0);
  TP_ASSIGN(server_, http::HttpServer::create(io_, loopback, *api_, metrics_));
  writer_->start();
  server_->start();
  for (unsigned i = 0; i < http_threads_; ++i) threads_.emplace_back([this] { io_.run(); });
  return Status::ok();
}

BenchServer::~BenchServer() {
  if (server_) server_->stop_accepting();
  io_.stop();
  for (auto& t : threads_) t.join();
  // Replies the writer still produces are posted to the stopped io_context and dropped with it.
  if (writer_) writer_->stop();
}

Result<std::string> BenchServer::create_key(storage::KeyKind kind) {
  std::string key = http::generate_key(kind);
  TP_TRY(store_->create_key(http::key_hash(key), kind, "bench", clock_.now()));
  return key;
}

}  // namespace tp::bench
